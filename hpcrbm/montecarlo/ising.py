"""The Ising model with a field on the 2D square lattice (L x L) and the 1D ring (L sites).

H = -J sum_<ij> s_i s_j - h sum_i s_i, s = +-1, periodic boundaries. Spins are int8 arrays
(R, *lattice): R independent replicas of one (T, H) grid point.
"""
from dataclasses import dataclass

import numpy as np

from ..backend import array_module
from ..rng.philox import seed_key
from .kernels import ising_cpu, ising_reference
from .lattice import PeriodicLattice

TWO32 = 2**32


def acceptance_thresholds(dE, temperature, dim):
    """uint64 thresholds floor(2**32 min(1, exp(-dE / T))) of Metropolis acceptance (a flip is
    accepted iff its uniform 32-bit word is below). On rings (dim = 1) a move that does not
    change the energy is accepted with probability 1/2 instead of 1: with certain acceptance a
    domain wall moves deterministically under the checkerboard order, left- and right-moving
    walls are conserved in number and the chain is not ergodic at zero field (measured: u at
    T = 1, N = 16 was -0.823 from ordered and -0.720 from random starts, exactly -0.769).
    Acceptance 1/2 at dE = 0 keeps detailed balance (A(dE) / A(-dE) = exp(-dE / T))."""
    dE = np.asarray(dE, float)
    with np.errstate(over="ignore"):
        p = np.exp(-dE / temperature)
    table = np.where(dE <= 0, float(TWO32), np.floor(np.minimum(p, 1.0) * TWO32))
    if dim == 1:
        table = np.where(np.abs(dE) < 1e-12, float(TWO32 // 2), table)
    return np.minimum(table, TWO32).astype(np.uint64)


@dataclass(frozen=True)
class IsingModel(PeriodicLattice):
    dim: int
    L: int
    J: float = 1.0

    up_state = 1
    states = np.array([-1, 1])

    @staticmethod
    def site_energy(field):
        """-h s for s = -1, +1."""
        return -field * IsingModel.states

    @staticmethod
    def states_from_words(words):
        """+1 iff word < 2**31."""
        return np.where(words < 2**31, 1, -1).astype(np.int8)

    def thresholds(self, temperature, field):
        """uint64 (2, z + 1): accept a flip of s with neighbour sum nb iff word < table[(s+1)/2, (nb+z)/2].

        Entries from :func:`acceptance_thresholds` with dE = 2 s (J nb + h). Computed once on the
        host, so every device uses the same integers.
        """
        z = self.coordination
        spin = np.array([-1, 1])[:, None]
        nb = np.arange(-z, z + 1, 2)[None, :]
        return acceptance_thresholds(2.0 * spin * (self.J * nb + field), temperature, self.dim)

    def sweep(self, spins, thresholds, seed, point, sweep_start, n_sweeps):
        """Advance all replicas by ``n_sweeps`` checkerboard Metropolis sweeps (in place)."""
        k0, k1 = seed_key(seed)
        kernel = ising_cpu.metropolis_2d if self.dim == 2 else ising_cpu.metropolis_1d
        kernel(spins, thresholds, k0, k1, point, sweep_start, n_sweeps)

    def measure(self, spins, field):
        """Per replica: energy per site (field term included) and signed magnetisation per site,
        arrays of the spins' module (NumPy: the numba kernel; a GPU's: its array twin)."""
        xp = array_module(spins)
        shaped = spins.reshape(spins.shape[0], -1, self.L)
        bonds, total = ising_cpu.ising_sums(shaped) if xp is np else ising_reference.ising_sums(xp, shaped)
        n = self.n_sites
        return (-self.J * bonds - field * total) / n, total / n
