"""q-state Potts and clock models on the 2D square lattice (L x L) and the 1D ring.

Potts: H = -J sum_<ij> delta(s_i, s_j) - h sum_i delta(s_i, 0).
Clock: H = -J sum_<ij> cos(2 pi (s_i - s_j) / q) - h sum_i cos(2 pi s_i / q).
States are int8 0..q-1, spins arrays (R, *lattice). Both models are one mechanism: a bond
energy e(d) of the relative state d = (s_i - s_j) mod q and a site energy f(s).
"""
from dataclasses import dataclass

import numpy as np

from ..backend import array_module
from ..rng.philox import seed_key
from .ising import acceptance_thresholds
from .kernels import qstate_cpu, qstate_reference
from .lattice import PeriodicLattice


@dataclass(frozen=True)
class QStateModel(PeriodicLattice):
    kind: str  # "potts" | "clock"
    dim: int
    L: int
    q: int
    J: float = 1.0

    up_state = 0

    def states_from_words(self, words):
        """(word * q) >> 32: uniform over 0..q-1."""
        return ((words.astype(np.uint64) * np.uint64(self.q)) >> np.uint64(32)).astype(np.int8)

    def bond_energy(self):
        """e(d), d = 0..q-1: energy of one bond whose states differ by d (mod q)."""
        d = np.arange(self.q)
        if self.kind == "potts":
            return -self.J * (d == 0)
        return -self.J * np.cos(2 * np.pi * d / self.q)

    @property
    def states(self):
        return np.arange(self.q)

    def site_energy(self, field):
        """f(s), s = 0..q-1: field energy of one site in state s."""
        s = np.arange(self.q)
        if self.kind == "potts":
            return -field * (s == 0)
        return -field * np.cos(2 * np.pi * s / self.q)

    def thresholds(self, temperature, field):
        """uint64 table of acceptance thresholds indexed as in kernels/qstate_cpu.py."""
        q, z = self.q, self.coordination
        e, f = self.bond_energy(), self.site_energy(field)
        axes = [np.arange(q), np.arange(1, q)] + [np.arange(q)] * z  # s, delta, d_1 .. d_z
        s, delta, *ds = np.meshgrid(*axes, indexing="ij", sparse=True)
        dE = f[(s + delta) % q] - f[s]
        for d in ds:
            dE = dE + e[(d + delta) % q] - e[d]
        return acceptance_thresholds(dE, temperature, self.dim).reshape(-1)

    def sweep(self, spins, thresholds, seed, point, sweep_start, n_sweeps):
        k0, k1 = seed_key(seed)
        kernel = qstate_cpu.metropolis_q_2d if self.dim == 2 else qstate_cpu.metropolis_q_1d
        kernel(spins, thresholds, self.q, k0, k1, point, sweep_start, n_sweeps)

    def histograms(self, spins):
        """(bond histogram over d, state histogram), int64 (R, q) each, arrays of the spins'
        module (NumPy: the numba kernel; a GPU's: its array twin)."""
        shaped = spins.reshape(spins.shape[0], -1, self.L)
        xp = array_module(spins)
        if xp is np:
            return qstate_cpu.qstate_histograms(shaped, self.q)
        return qstate_reference.qstate_histograms(xp, shaped, self.q)

    def measure(self, spins, field):
        """Per replica: energy per site and order parameter m, arrays of the spins' module.

        Potts m = (q max_k n_k / N - 1) / (q - 1); clock m = |sum_i exp(2 pi i s_i / q)| / N.
        """
        xp = array_module(spins)
        bonds, states = self.histograms(spins)
        n = self.n_sites
        energy = (bonds @ xp.asarray(self.bond_energy()) + states @ xp.asarray(self.site_energy(field))) / n
        if self.kind == "potts":
            m = (self.q * states.max(axis=1) / n - 1) / (self.q - 1)
        else:
            angle = 2 * np.pi * np.arange(self.q) / self.q
            m = xp.hypot(states @ xp.asarray(np.cos(angle)), states @ xp.asarray(np.sin(angle))) / n
        return energy, m
