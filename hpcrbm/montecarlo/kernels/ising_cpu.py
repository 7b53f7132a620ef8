"""Checkerboard Metropolis for Ising spins (int8, +-1): numba CPU kernels.

The update rule and random-number layout are shared with the NumPy reference
(``ising_reference.py``) and the CUDA kernels, and documented in docs/rng.md:

- A sweep is one pass over every colour class in order (2D: (x + y) % 2 = 0, then 1;
  1D ring: even sites, odd sites, and for odd N the last site on its own).
- The half-sweep counter is ``t = sweep * n_colours + colour``.
- Sites of a colour are numbered in row-major order, ``k = 0 .. n_c - 1``. Site k flips iff
  its uniform 32-bit number ``u < threshold[(s + 1) // 2, (sum of neighbours + z) // 2]``
  (uint64 table, 2**32 = always). The top byte of u is byte ``k % 4`` of Metropolis word
  ``k // 4`` (one Philox block serves 16 sites); only when that byte equals the threshold's
  top byte (probability 1/256) are the low 24 bits needed: the top 24 bits of word k of the
  tie stream. No floating point is evaluated in the kernel.
"""
import sys

import numba
import numpy as np

from ...rng.philox import fill_words, philox4x32
from ...rng.streams import Purpose

_METROPOLIS = int(Purpose.METROPOLIS)
_TIE = int(Purpose.METROPOLIS_TIE)
assert sys.byteorder == "little", "the kernels read Philox words as little-endian bytes"


@numba.njit(inline="always", cache=True)
def _flips(buf, k, t, step, replica, c3, k0, k1):
    """1 iff class site k accepts its flip against threshold t (uint64 <= 2**32), else 0.

    buf: the colour's Metropolis words as bytes (little-endian: byte k is byte k % 4 of word
    k // 4); c3: counter word 3 of the Metropolis stream (the tie stream's differs in its
    purpose byte only)."""
    top = np.uint64(buf[k])
    hi = t >> np.uint64(24)
    if top != hi:  # decided by the top byte (255 times in 256)
        return np.int8(top < hi)
    w = philox4x32(k >> np.uint64(2), np.uint64(step), np.uint64(replica), c3 + np.uint64(_TIE - _METROPOLIS), k0, k1)
    j = k & np.uint64(3)
    word = w[0] if j == 0 else w[1] if j == 1 else w[2] if j == 2 else w[3]
    return np.int8((word >> np.uint64(8)) < (t & np.uint64(0xFFFFFF)))


@numba.njit(inline="always", cache=True)
def _update_site(s, row, up, down, x, left, right, k, buf, thr, step, replica, c3, k0, k1):
    """Metropolis update of s[row + x] (flat indices, neighbours given), class site k."""
    si = s[row + x]
    nb = np.int32(s[up + x]) + np.int32(s[down + x]) + np.int32(s[row + left]) + np.int32(s[row + right])
    t = thr[np.uint64(((si + 1) >> 1) * 5 + ((nb + 4) >> 1))]
    s[row + x] = si - 2 * si * _flips(buf, k, t, step, replica, c3, k0, k1)


@numba.njit(cache=True, nogil=True)
def metropolis_2d(spins, thresholds, k0, k1, point, sweep_start, n_sweeps):
    """Advance every replica of one grid point by ``n_sweeps`` sweeps.

    spins: int8 (R, L, L), +-1, updated in place; thresholds: uint64 (2, 5);
    k0, k1: Philox key; point: global flat grid index; sweep_start: sweeps done so far.
    Indices are unsigned so that numba emits no negative-index wrap-around checks.
    """
    n_rep, L, _ = spins.shape
    half = L // 2
    n_sites = L * half
    words = np.empty(((n_sites + 15) // 16) * 4, dtype=np.uint32)
    buf = words.view(np.uint8)
    thr = thresholds.ravel()
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    one, two = np.uint64(1), np.uint64(2)
    for r in range(n_rep):
        s = spins[r].ravel()
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                step = sweep * 2 + colour
                fill_words(words, 0, (n_sites + 3) // 4, step, r, c3, kk0, kk1)
                for y in range(L):
                    row = np.uint64(y * L)
                    up = np.uint64(((y + L - 1) % L) * L)
                    down = np.uint64(((y + 1) % L) * L)
                    x0 = np.uint64((y + colour) & 1)
                    kb = np.uint64(y * half)
                    for i in range(one, np.uint64(half - 1)):  # interior: no wrap
                        x = x0 + two * i
                        _update_site(s, row, up, down, x, x - one, x + one, kb + i, buf, thr, step, r, c3, kk0, kk1)
                    last = x0 + two * np.uint64(half - 1)
                    _update_site(s, row, up, down, x0, np.uint64((x0 + L - 1) % L), np.uint64((x0 + 1) % L), kb,
                                 buf, thr, step, r, c3, kk0, kk1)
                    if half > 1:
                        _update_site(s, row, up, down, last, last - one, np.uint64((last + 1) % L),
                                     kb + np.uint64(half - 1), buf, thr, step, r, c3, kk0, kk1)


@numba.njit(inline="always", cache=True)
def _update_ring_site(s, i, left, right, k, buf, thr, step, replica, c3, k0, k1):
    """Metropolis update of ring site i (class site k) with neighbours ``left`` and ``right``."""
    si = s[i]
    nb = np.int32(s[left]) + np.int32(s[right])
    t = thr[np.uint64(((si + 1) >> 1) * 3 + ((nb + 2) >> 1))]
    s[i] = si - 2 * si * _flips(buf, k, t, step, replica, c3, k0, k1)


@numba.njit(inline="always", cache=True)
def ring_colour_class(n, colour):
    """(start, count) of colour class ``colour`` of an n-site ring: sites start, start + 2, ...

    Colour 0: even sites below n - n % 2; colour 1: odd sites; colour 2 (odd n only): site n - 1.
    """
    if colour == 2:
        return n - 1, 1
    stop = n - (n & 1) * (1 - colour)
    return colour, (stop - colour + 1) // 2


@numba.njit(cache=True, nogil=True)
def metropolis_1d(spins, thresholds, k0, k1, point, sweep_start, n_sweeps):
    """1D ring twin of :func:`metropolis_2d`: spins int8 (R, N), thresholds uint64 (2, 3).

    Colours: even sites below N - N % 2, odd sites, and for odd N the last site alone.
    """
    n_rep, n = spins.shape
    n_colours = 2 + (n & 1)
    count0 = (n + 1) // 2
    words = np.empty(((count0 + 15) // 16) * 4, dtype=np.uint32)
    buf = words.view(np.uint8)
    thr = thresholds.ravel()
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    one, two = np.uint64(1), np.uint64(2)
    last = np.uint64(n - 1)
    for r in range(n_rep):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(n_colours):
                step = sweep * n_colours + colour
                start, count = ring_colour_class(n, colour)
                fill_words(words, 0, (count + 3) // 4, step, r, c3, kk0, kk1)
                first = np.uint64(start)
                for k in range(one, np.uint64(count - 1)):  # interior: no wrap
                    i = first + two * k
                    _update_ring_site(s, i, i - one, i + one, k, buf, thr, step, r, c3, kk0, kk1)
                ends = 2 if count > 1 else 1
                for e in range(ends):  # the two ends of the class, which may wrap
                    k = np.uint64(e * (count - 1))
                    i = first + two * k
                    left = i - one if i > 0 else last
                    right = i + one if i < last else np.uint64(0)
                    _update_ring_site(s, i, left, right, k, buf, thr, step, r, c3, kk0, kk1)


@numba.njit(cache=True, nogil=True)
def ising_sums(spins):
    """Per replica (sum over bonds of s_i s_j, sum of s_i), int64 arrays (R,).

    spins int8 (R, L, L), or (R, 1, N) for rings; each periodic bond is counted once
    (bonds to the right, and down in 2D).
    """
    n_rep, ly, lx = spins.shape
    bonds = np.zeros(n_rep, dtype=np.int64)
    total = np.zeros(n_rep, dtype=np.int64)
    for r in range(n_rep):
        b = 0
        m = 0
        for y in range(ly):
            yd = y + 1 if y < ly - 1 else 0
            for x in range(lx):
                xr = x + 1 if x < lx - 1 else 0
                si = np.int64(spins[r, y, x])
                b += si * spins[r, y, xr]
                if ly > 1:
                    b += si * spins[r, yd, x]
                m += si
        bonds[r] = b
        total[r] = m
    return bonds, total
