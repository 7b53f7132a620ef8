"""The Ising model with a field on the 2D square lattice (L x L) and the 1D ring (L sites).

H = -J sum_<ij> s_i s_j - h sum_i s_i, s = +-1, periodic boundaries. Spins are int8 arrays
(R, *lattice): R independent replicas of one (T, H) grid point.
"""
from dataclasses import dataclass

import numpy as np

from ..rng.streams import Purpose, counter_words
from .kernels import ising_cpu

TWO32 = 2**32


@dataclass(frozen=True)
class IsingModel:
    dim: int
    L: int
    J: float = 1.0

    @property
    def lattice_shape(self):
        return (self.L,) * self.dim

    @property
    def n_sites(self):
        return self.L**self.dim

    @property
    def coordination(self):
        return 2 * self.dim

    def thresholds(self, temperature, field):
        """uint64 (2, z + 1): accept a flip of s with neighbour sum nb iff word < table[(s+1)/2, (nb+z)/2].

        Entries are floor(2**32 exp(-dE / T)) with dE = 2 s (J nb + h), and 2**32 (always)
        when dE <= 0. Computed once on the host, so every device uses the same integers.
        """
        z = self.coordination
        spin = np.array([-1, 1])[:, None]
        nb = np.arange(-z, z + 1, 2)[None, :]
        delta = 2.0 * spin * (self.J * nb + field)
        with np.errstate(over="ignore"):
            p = np.exp(-delta / temperature)
        table = np.where(delta <= 0, float(TWO32), np.floor(np.minimum(p, 1.0) * TWO32))
        return np.minimum(table, TWO32).astype(np.uint64)

    def initial_state(self, seed, point, replicas, start="ordered"):
        """int8 (R, *lattice) initial spins.

        "up": all +1. "random": s = +1 iff word(site) < 2**31. "ordered": every spin of a
        replica equals the "random" value of its site 0 (half the replicas all up, half
        all down: an ordered start that avoids Metropolis' frozen stripes at low T).
        Words come from the INITIAL_STATE stream at step 0, index = site.
        """
        shape = (replicas,) + self.lattice_shape
        if start == "up":
            return np.ones(shape, dtype=np.int8)
        spins = np.empty(shape, dtype=np.int8)
        sites = np.arange(1 if start == "ordered" else self.n_sites)
        for r in range(replicas):
            words = counter_words(seed, point, r, 0, sites, Purpose.INITIAL_STATE)
            signs = np.where(words < 2**31, 1, -1).astype(np.int8)
            spins[r] = signs[0] if start == "ordered" else signs.reshape(self.lattice_shape)
        return spins

    def sweep(self, spins, thresholds, seed, point, sweep_start, n_sweeps):
        """Advance all replicas by ``n_sweeps`` checkerboard Metropolis sweeps (in place)."""
        k0, k1 = seed & 0xFFFFFFFF, seed >> 32
        kernel = ising_cpu.metropolis_2d if self.dim == 2 else ising_cpu.metropolis_1d
        kernel(spins, thresholds, k0, k1, point, sweep_start, n_sweeps)

    def measure(self, spins, field):
        """Per replica: energy per site (field term included) and signed magnetisation per site."""
        sums = ising_cpu.ising_sums if self.dim == 2 else ising_cpu.ising_sums_1d
        bonds, total = sums(spins)
        n = self.n_sites
        return (-self.J * bonds - field * total) / n, total / n
