"""Checkerboard Metropolis for q-state models (Potts, clock): numba CPU kernels.

States are int8 0..q-1. Same colour classes, half-sweep counter and Philox layout as the
Ising kernels (``ising_cpu.py``, docs/rng.md), with two words per site: site k of a colour
class draws word 2k (the proposal) and word 2k + 1 (the acceptance).

- Proposal: s' = (s + delta) % q with delta = 1 + ((word_2k * (q - 1)) >> 32), uniform over
  the q - 1 other states (to within 2**-32).
- Acceptance: word_2k+1 < table[index], index = ((s * (q - 1) + delta - 1) * q^z + sum_j
  d_j q^(z-1-j)), d_j = (s - n_j) mod q for the neighbours in the order (up, down, left,
  right) in 2D and (left, right) in 1D. The uint64 table (built by the model on the host)
  holds floor(2**32 exp(-dE / T)), 2**32 when dE <= 0: any bond energy e(d) and site
  energy f(s) fit this one mechanism.
"""
import numba
import numpy as np

from ...rng.philox import fill_words
from ...rng.streams import Purpose
from .ising_cpu import ring_colour_class

_METROPOLIS = int(Purpose.METROPOLIS)


@numba.njit(inline="always", cache=True)
def _relative(si, nj, q):
    """(si - nj) mod q for states in 0..q-1, without a division."""
    d = si - np.int64(nj)
    return d + q * (d < 0)


@numba.njit(inline="always", cache=True)
def _update_q_site(s, i, neighbours, w_propose, w_accept, table, q, qz):
    """Metropolis update of flat site i with the given neighbour sites (tuple); qz = q**z."""
    si = np.int64(s[i])
    index = np.int64(0)
    for nj in neighbours:
        index = index * q + _relative(si, s[nj], q)
    delta = 1 + np.int64((np.uint64(w_propose) * np.uint64(q - 1)) >> np.uint64(32))
    index += (si * (q - 1) + delta - 1) * qz
    new = si + (np.uint64(w_accept) < table[np.uint64(index)]) * delta
    s[i] = np.int8(new - q * (new >= q))


@numba.njit(cache=True, nogil=True)
def metropolis_q_2d(spins, table, q, k0, k1, point, sweep_start, n_sweeps):
    """Advance every replica (int8 (R, L, L), states 0..q-1) by ``n_sweeps`` sweeps."""
    n_rep, L, _ = spins.shape
    half = L // 2
    n_words = 2 * L * half
    buf = np.empty(((n_words + 3) // 4) * 4, dtype=np.uint32)
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0, kk1 = np.uint64(k0), np.uint64(k1)
    qz = np.int64(q) ** 4
    one, two = np.uint64(1), np.uint64(2)
    for r in range(n_rep):
        s = spins[r].ravel()
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                fill_words(buf, 0, n_words, sweep * 2 + colour, r, c3, kk0, kk1)
                for y in range(L):
                    row = np.uint64(y * L)
                    up = np.uint64(((y + L - 1) % L) * L)
                    down = np.uint64(((y + 1) % L) * L)
                    x0 = np.uint64((y + colour) & 1)
                    kb = np.uint64(2 * y * half)
                    for i in range(one, np.uint64(half - 1)):  # interior: no wrap
                        x = x0 + two * i
                        k = kb + two * i
                        _update_q_site(s, row + x, (up + x, down + x, row + x - one, row + x + one),
                                       buf[k], buf[k + one], table, q, qz)
                    for e in range(2 if half > 1 else 1):  # the two ends of the row, which may wrap
                        i = np.uint64(e * (half - 1))
                        x = x0 + two * i
                        k = kb + two * i
                        left = row + np.uint64((x + np.uint64(L - 1)) % np.uint64(L))
                        right = row + np.uint64((x + one) % np.uint64(L))
                        _update_q_site(s, row + x, (up + x, down + x, left, right), buf[k], buf[k + one],
                                       table, q, qz)


@numba.njit(cache=True, nogil=True)
def metropolis_q_1d(spins, table, q, k0, k1, point, sweep_start, n_sweeps):
    """Ring twin of :func:`metropolis_q_2d`: spins int8 (R, N); colours as for Ising rings."""
    n_rep, n = spins.shape
    n_colours = 2 + (n & 1)
    buf = np.empty((2 * ((n + 1) // 2) + 3) // 4 * 4, dtype=np.uint32)
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0, kk1 = np.uint64(k0), np.uint64(k1)
    qz = np.int64(q) ** 2
    for r in range(n_rep):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(n_colours):
                start, count = ring_colour_class(n, colour)
                fill_words(buf, 0, 2 * count, sweep * n_colours + colour, r, c3, kk0, kk1)
                for k in range(count):
                    i = start + 2 * k
                    _update_q_site(s, i, ((i + n - 1) % n, (i + 1) % n), buf[2 * k], buf[2 * k + 1], table, q, qz)


@numba.njit(cache=True, nogil=True)
def qstate_histograms(spins, q):
    """Per replica: bond histogram over d = (s_i - s_j) mod q (each periodic bond once, 2D
    bonds to the right and down, 1D to the right) and state histogram; int64 (R, q) each.

    spins: int8 (R, L, L) or (R, 1, N) for rings (the caller reshapes).
    """
    n_rep, ly, lx = spins.shape
    bonds = np.zeros((n_rep, q), dtype=np.int64)
    states = np.zeros((n_rep, q), dtype=np.int64)
    for r in range(n_rep):
        for y in range(ly):
            yd = (y + 1) % ly
            for x in range(lx):
                si = spins[r, y, x]
                states[r, si] += 1
                bonds[r, (si - spins[r, y, (x + 1) % lx] + q) % q] += 1
                if ly > 1:
                    bonds[r, (si - spins[r, yd, x] + q) % q] += 1
    return bonds, states
