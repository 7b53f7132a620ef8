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
  tie stream. No floating point is evaluated in the kernel. The kernels decide a class row in
  two passes (top bytes, branch-free, then ties): the same decisions.
- Small lattices (L <= SMALL_L) with many replicas are updated REPLICA_GROUP replicas at a time,
  one per SIMD lane (Philox and decisions vectorised across replicas): the same decisions again.
"""
import sys

import numba
import numpy as np

from ... import use_kernel_cache
from ...rng.philox import fill_words, philox4x32, philox4x32_lanes
from ...rng.streams import Purpose

use_kernel_cache()  # before any cache=True function

_METROPOLIS = int(Purpose.METROPOLIS)
_TIE = int(Purpose.METROPOLIS_TIE)
assert sys.byteorder == "little", "the kernels read Philox words as little-endian bytes"


@numba.njit(inline="always", cache=True)
def _threshold_bytes(thresholds):
    """The threshold table's top bytes and where it is 2**32 (always flip), uint8 (n,) each."""
    thr = thresholds.ravel()
    top = np.zeros(thr.size, np.uint8)
    always = np.zeros(thr.size, np.uint8)
    for j in range(thr.size):
        if thr[j] >= np.uint64(1 << 32):
            always[j] = 1
        else:
            top[j] = np.uint8(thr[j] >> np.uint64(24))
    return thr, top, always


@numba.njit(inline="always", cache=True)
def _table_index(si, nb, z):
    """Index of the threshold of spin si with neighbour sum nb (coordination z) in the flat table."""
    return ((si + 1) >> 1) * (z + 1) + ((nb + z) >> 1)


@numba.njit(inline="always", cache=True)
def _decide(s, i, nb, z, byte, top, always, tied, k):
    """First pass at site i (class site k, neighbour sum nb, coordination z): flip it when its
    Metropolis byte is below the threshold's top byte (or the threshold is 2**32); on a tie
    (one site in 256) leave it and set tied[k]. Branch-free, no loop-carried state."""
    si = s[i]
    j = _table_index(si, nb, z)
    a = always[j]
    tied[k] = (byte == top[j]) & (a == 0)
    s[i] = si - 2 * si * np.int8((byte < top[j]) | (a == 1))


@numba.njit(inline="always", cache=True)
def _settle_tie(s, i, nb, z, thr, k, step, replica, c3, k0, k1):
    """Second pass at tied site i (class site k): flip it when the top 24 bits of word k of the
    tie stream are below the low 24 bits of its threshold."""
    si = s[i]
    t = thr[_table_index(si, nb, z)]
    word_index = np.uint64(k)
    w = philox4x32(word_index >> np.uint64(2), np.uint64(step), np.uint64(replica),
                   c3 + np.uint64(_TIE - _METROPOLIS), k0, k1)
    j = word_index & np.uint64(3)
    word = w[0] if j == 0 else w[1] if j == 1 else w[2] if j == 2 else w[3]
    if (word >> np.uint64(8)) < (t & np.uint64(0xFFFFFF)):
        s[i] = -si


@numba.njit(cache=True, nogil=True)
def metropolis_2d(spins, thresholds, k0, k1, point, sweep_start, n_sweeps):
    """Advance every replica of one grid point by ``n_sweeps`` sweeps.

    spins: int8 (R, L, L), +-1, updated in place; thresholds: uint64 (2, 5);
    k0, k1: Philox key; point: global flat grid index; sweep_start: sweeps done so far.
    The sites of a colour do not neighbour each other, so each row of a class is decided in two
    passes: the top bytes first (branch-free; the two ends, which wrap, on their own), then the
    rare ties; the decisions are those of the one-pass rule exactly.
    """
    n_rep, L, _ = spins.shape
    if L <= SMALL_L:
        _metropolis_2d_small(spins, thresholds, k0, k1, point, sweep_start, n_sweeps)
        return
    half = L // 2
    n_sites = L * half
    words = np.empty(((n_sites + 15) // 16) * 4, dtype=np.uint32)
    buf = words.view(np.uint8)
    thr, top, always = _threshold_bytes(thresholds)
    tied = np.zeros(half, np.bool_)
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    ends = (0, half - 1) if half > 1 else (0, 0)
    for r in range(n_rep):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                step = sweep * 2 + colour
                fill_words(words, 0, (n_sites + 3) // 4, step, r, c3, kk0, kk1)
                for y in range(L):
                    row = s[y]
                    above = s[y - 1 if y > 0 else L - 1]
                    below = s[y + 1 if y < L - 1 else 0]
                    x0 = (y + colour) & 1
                    kb = y * half
                    for e in range(1 if half == 1 else 2):  # the ends of the row, which may wrap
                        i = ends[e]
                        x = x0 + 2 * i
                        nb = (np.int32(above[x]) + np.int32(below[x]) + np.int32(row[x - 1 if x > 0 else L - 1])
                              + np.int32(row[x + 1 if x < L - 1 else 0]))
                        _decide(row, x, nb, 4, buf[kb + i], top, always, tied, i)
                    for i in range(1, half - 1):  # interior: no wrap
                        x = x0 + 2 * i
                        nb = np.int32(above[x]) + np.int32(below[x]) + np.int32(row[x - 1]) + np.int32(row[x + 1])
                        _decide(row, x, nb, 4, buf[kb + i], top, always, tied, i)
                    for i in range(half):
                        if not tied[i]:
                            continue
                        x = x0 + 2 * i
                        nb = (np.int32(above[x]) + np.int32(below[x]) + np.int32(row[x - 1 if x > 0 else L - 1])
                              + np.int32(row[x + 1 if x < L - 1 else 0]))
                        _settle_tie(row, x, nb, 4, thr, kb + i, step, r, c3, kk0, kk1)


SMALL_L = 32  # up to this side a colour class is one loop over neighbour tables, not row by row
REPLICA_GROUP = 32  # small lattices: replicas updated together, one SIMD lane each


@numba.njit(cache=True, nogil=True)
def _metropolis_2d_small(spins, thresholds, k0, k1, point, sweep_start, n_sweeps):
    """:func:`metropolis_2d` for small lattices (batches of many replicas): whole groups of
    ``REPLICA_GROUP`` replicas side by side (:func:`_metropolis_2d_grouped`), the rest (fewer
    than a group) one at a time (:func:`_metropolis_2d_replicas`). The same decisions."""
    n_grouped = spins.shape[0] - spins.shape[0] % REPLICA_GROUP
    if n_grouped > 0:
        _metropolis_2d_grouped(spins, n_grouped, thresholds, k0, k1, point, sweep_start, n_sweeps)
    _metropolis_2d_replicas(spins, n_grouped, thresholds, k0, k1, point, sweep_start, n_sweeps)


@numba.njit(inline="always", cache=True)
def checkerboard_tables(L):
    """int64 (2, 5, L * L // 2): per colour and class site k (row-major class order), the flat
    index of the site, then of its neighbours above, below, left and right."""
    half = L // 2
    n_sites = L * half
    tables = np.empty((2, 5, n_sites), np.int64)
    for colour in range(2):
        for y in range(L):
            for i in range(half):
                k, x = y * half + i, ((y + colour) & 1) + 2 * i
                tables[colour, 0, k] = y * L + x
                tables[colour, 1, k] = ((y + L - 1) % L) * L + x
                tables[colour, 2, k] = ((y + 1) % L) * L + x
                tables[colour, 3, k] = y * L + (x + L - 1) % L
                tables[colour, 4, k] = y * L + (x + 1) % L
    return tables


@numba.njit(inline="always", cache=True)
def _select_limit(si, q, limits):
    """limits[(si + 1) // 2 * 5 + q] (limits: a tuple of 10) as selects, not a gather, so that
    the loop around it vectorises."""
    m = limits[0] if q == 0 else limits[1] if q == 1 else limits[2] if q == 2 else limits[3] if q == 3 else limits[4]
    p = limits[5] if q == 0 else limits[6] if q == 1 else limits[7] if q == 2 else limits[8] if q == 3 else limits[9]
    return p if si > 0 else m


@numba.njit(inline="always", cache=True)
def _spread_word(rand, row, g, w):
    """Bytes 0..3 (little-endian) of the 32-bit word w into rand[row .. row + 3, g]."""
    rand[row, g] = np.uint8(w & np.uint64(255))
    rand[row + 1, g] = np.uint8((w >> np.uint64(8)) & np.uint64(255))
    rand[row + 2, g] = np.uint8((w >> np.uint64(16)) & np.uint64(255))
    rand[row + 3, g] = np.uint8(w >> np.uint64(24))


@numba.njit(cache=True, nogil=True)
def _metropolis_2d_grouped(spins, n_grouped, thresholds, k0, k1, point, sweep_start, n_sweeps):
    """Replicas 0 .. n_grouped - 1 (a multiple of ``REPLICA_GROUP``) of a small lattice, a group
    at a time with one replica per lane: the group's spins are transposed to (site, replica),
    a class's Philox blocks are drawn for the whole group at once (vectorised across replicas)
    and spread into per-site rows of bytes, and each class site is decided for every replica in
    one vectorised loop (top bytes against the threshold's, 256 meaning always). Ties are
    settled afterwards exactly as in :func:`_settle_tie`. Spins are copied back at the end."""
    L = spins.shape[1]
    n_sites = L * (L // 2)
    G = REPLICA_GROUP
    tables = checkerboard_tables(L)
    thr, top, always = _threshold_bytes(thresholds)
    lim = np.empty(10, np.int16)  # flip iff byte < limit; tie iff byte == limit (never when 256)
    for j in range(10):
        lim[j] = 256 if always[j] else top[j]
    limits = (lim[0], lim[1], lim[2], lim[3], lim[4], lim[5], lim[6], lim[7], lim[8], lim[9])
    n_blocks = (n_sites + 15) // 16
    group = np.empty((L * L, G), np.int8)
    rand = np.empty((n_blocks * 16, G), np.uint8)  # rand[k, g]: Metropolis byte of class site k
    tied = np.empty((n_sites, G), np.uint8)
    any_tied = np.zeros(n_sites, np.uint8)
    c3 = np.uint64(point * 256 + _METROPOLIS)
    c3_tie = np.uint64(point * 256 + _TIE)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    for r0 in range(0, n_grouped, G):
        for y in range(L):
            for x in range(L):
                for g in range(G):
                    group[y * L + x, g] = spins[r0 + g, y, x]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                step = np.uint64(sweep * 2 + colour)
                for b in range(n_blocks):
                    o = 16 * b
                    for g in range(G):
                        w0, w1, w2, w3 = philox4x32_lanes(np.uint64(b), step, np.uint64(r0 + g), c3, kk0, kk1)
                        _spread_word(rand, o, g, w0)
                        _spread_word(rand, o + 4, g, w1)
                        _spread_word(rand, o + 8, g, w2)
                        _spread_word(rand, o + 12, g, w3)
                n_tied = 0
                for k in range(n_sites):
                    site = group[tables[colour, 0, k]]
                    up = group[tables[colour, 1, k]]
                    down = group[tables[colour, 2, k]]
                    left = group[tables[colour, 3, k]]
                    right = group[tables[colour, 4, k]]
                    rk = rand[k]
                    tk = tied[k]
                    seen = np.uint8(0)
                    for g in range(G):
                        si = site[g]
                        q = (np.int32(up[g]) + np.int32(down[g]) + np.int32(left[g]) + np.int32(right[g]) + 4) >> 1
                        limit = _select_limit(si, q, limits)
                        u = np.int16(rk[g])
                        site[g] = -si if u < limit else si
                        t = np.uint8(u == limit)
                        tk[g] = t
                        seen |= t
                    any_tied[k] = seen
                    n_tied += seen
                if n_tied == 0:
                    continue
                for k in range(n_sites):
                    if any_tied[k] == 0:
                        continue
                    i = tables[colour, 0, k]
                    for g in range(G):
                        if tied[k, g] == 0:
                            continue
                        si = group[i, g]  # a tied site was not flipped in the first pass
                        nb = (np.int32(group[tables[colour, 1, k], g]) + np.int32(group[tables[colour, 2, k], g])
                              + np.int32(group[tables[colour, 3, k], g]) + np.int32(group[tables[colour, 4, k], g]))
                        t = thr[_table_index(si, nb, 4)]
                        word_index = np.uint64(k)
                        w = philox4x32(word_index >> np.uint64(2), step, np.uint64(r0 + g), c3_tie, kk0, kk1)
                        j = word_index & np.uint64(3)
                        word = w[0] if j == 0 else w[1] if j == 1 else w[2] if j == 2 else w[3]
                        if (word >> np.uint64(8)) < (t & np.uint64(0xFFFFFF)):
                            group[i, g] = -si
        for y in range(L):
            for x in range(L):
                for g in range(G):
                    spins[r0 + g, y, x] = group[y * L + x, g]


@numba.njit(cache=True, nogil=True)
def _metropolis_2d_replicas(spins, first, thresholds, k0, k1, point, sweep_start, n_sweeps):
    """Replicas first .. R - 1 of a small lattice one at a time: each colour class is one loop
    over precomputed flat site and neighbour indices (row-major class order)."""
    n_rep, L, _ = spins.shape
    n_sites = L * (L // 2)
    tables = checkerboard_tables(L)
    words = np.empty(((n_sites + 15) // 16) * 4, dtype=np.uint32)
    buf = words.view(np.uint8)
    thr, top, always = _threshold_bytes(thresholds)
    tied = np.zeros(n_sites, np.bool_)
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    for r in range(first, n_rep):
        s = np.ascontiguousarray(spins[r]).reshape(L * L)  # the replica itself unless spins is a strided view
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                step = sweep * 2 + colour
                fill_words(words, 0, (n_sites + 3) // 4, step, r, c3, kk0, kk1)
                site, up, down, left, right = tables[colour]
                for k in range(n_sites):
                    nb = np.int32(s[up[k]]) + np.int32(s[down[k]]) + np.int32(s[left[k]]) + np.int32(s[right[k]])
                    _decide(s, site[k], nb, 4, buf[k], top, always, tied, k)
                for k in range(n_sites):
                    if not tied[k]:
                        continue
                    nb = np.int32(s[up[k]]) + np.int32(s[down[k]]) + np.int32(s[left[k]]) + np.int32(s[right[k]])
                    _settle_tie(s, site[k], nb, 4, thr, k, step, r, c3, kk0, kk1)
        spins[r] = s.reshape(L, L)  # a no-op on the replica itself; the copy back for a strided view


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
    thr, top, always = _threshold_bytes(thresholds)
    tied = np.zeros(count0, np.bool_)
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    for r in range(n_rep):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(n_colours):
                step = sweep * n_colours + colour
                start, count = ring_colour_class(n, colour)
                fill_words(words, 0, (count + 3) // 4, step, r, c3, kk0, kk1)
                for e in range(1 if count == 1 else 2):  # the two ends of the class, which may wrap
                    k = e * (count - 1)
                    i = start + 2 * k
                    nb = np.int32(s[(i + n - 1) % n]) + np.int32(s[(i + 1) % n])
                    _decide(s, i, nb, 2, buf[k], top, always, tied, k)
                first = np.uint64(start)  # unsigned indices: no negative-index checks in the loop
                for k in range(1, count - 1):  # interior: no wrap
                    i = first + np.uint64(2 * k)
                    _decide(s, i, np.int32(s[i - np.uint64(1)]) + np.int32(s[i + np.uint64(1)]), 2, buf[k], top, always,
                            tied, k)
                for k in range(count):
                    if not tied[k]:
                        continue
                    i = start + 2 * k
                    _settle_tie(s, i, np.int32(s[(i + n - 1) % n]) + np.int32(s[(i + 1) % n]), 2, thr, k, step, r,
                                c3, kk0, kk1)


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
