"""The L x L periodic Ising model in a field, exactly, by its row-to-row transfer matrix.

A row is one of 2**L spin states; T(s, s') = exp(beta [J sum_j s_j s'_j + (w(s) + w(s')) / 2])
with the row's own weight w(s) = J sum_j s_j s_{j+1} + h sum_j s_j (periodic in j). T is real
symmetric, Z = Tr T^L = sum_i lambda_i^L over its eigenvalues. Per-site observables (energy
including -h sum s, signed m, c, chi) follow from derivatives of ln Z as for the ring
(ising1d.py). Cost: one 2**L x 2**L eigenvalue problem per ln Z (L = 10: 0.13 s here; L = 12:
30 s), so the exact reference uses it for L <= MAX_L. Checked against enumeration at L = 4 and
against Kaufman at h = 0 (tests/exact).
"""
import functools

import numpy as np

from .derivatives import observables_from_log_partition

MAX_L = 10  # largest L the exact reference evaluates routinely (2**L rows)


@functools.lru_cache(maxsize=4)
def _row_tables(L):
    """(sum_j s_j s_{j+1}, sum_j s_j) per row state (2**L,), sum_j s_j s'_j per pair (2**L, 2**L)."""
    states = np.arange(2**L)
    spins = 1 - 2 * ((states[:, None] >> np.arange(L)) & 1)
    horizontal = (spins * np.roll(spins, -1, axis=1)).sum(axis=1)
    popcount = np.array([bin(i).count("1") for i in range(2**L)], dtype=np.int16)
    vertical = (L - 2 * popcount[states[:, None] ^ states[None, :]]).astype(np.int16)
    return horizontal, spins.sum(axis=1), vertical


def torus_log_partition(beta, field, L, J=1.0):
    """ln Z of the L x L torus (2 <= L <= 12) at inverse temperature ``beta`` and field ``field``."""
    if not 2 <= L <= 12:
        raise ValueError("the transfer matrix is for 2 <= L <= 12")
    horizontal, magnet, vertical = _row_tables(L)
    half_row = 0.5 * beta * (J * horizontal + field * magnet)
    log_t = beta * J * vertical + half_row[:, None] + half_row[None, :]
    shift = log_t.max()
    lam = np.linalg.eigvalsh(np.exp(log_t - shift))
    top = np.abs(lam).max()
    return L * (shift + np.log(top)) + np.log(np.sum((lam / top) ** L))


def torus_observables(T, field, L, J=1.0):
    """Exact per-site (u, m, c, chi) of the L x L torus at temperature T and field ``field``;
    m is signed, chi = N var(m) / T (N = L^2)."""
    return observables_from_log_partition(lambda b, h: torus_log_partition(b, h, L, J), T, field, L * L)
