"""Brute-force enumeration of small periodic Ising lattices (the check on Kaufman)."""
import numpy as np


def ising2d_bonds_and_magnetization(L):
    """(sum of nearest-neighbour products, sum of spins) of all 2**(L*L) states of the L x L
    torus (L <= 4), int arrays."""
    n = L * L
    if n > 20:
        raise ValueError("enumeration is limited to 2**20 states")
    bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
    s = (2 * bits - 1).astype(np.int8).reshape(-1, L, L)
    bonds = (s * np.roll(s, 1, axis=1)).sum(axis=(1, 2)) + (s * np.roll(s, 1, axis=2)).sum(axis=(1, 2))
    return bonds.astype(np.int64), s.sum(axis=(1, 2), dtype=np.int64)


def ising2d_energies(L, J=1.0, field=0.0):
    """Total energies -J sum s s' - h sum s of all 2**(L*L) states of the L x L torus (L <= 4)."""
    bonds, magnet = ising2d_bonds_and_magnetization(L)
    return -J * bonds.astype(float) - field * magnet


def enumerated_observables(energies, n_sites, T):
    """Exact (u, c) per site from the list of all state energies at temperature T."""
    w = -energies / T
    w = np.exp(w - w.max())
    z = w.sum()
    mean = (w * energies).sum() / z
    var = (w * (energies - mean) ** 2).sum() / z
    return mean / n_sites, var / (n_sites * T * T)
