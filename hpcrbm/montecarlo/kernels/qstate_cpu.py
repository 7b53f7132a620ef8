"""Checkerboard Metropolis for q-state models (Potts, clock): numba CPU kernels.

States are int8 0..q-1. Same colour classes and half-sweep counter as the Ising kernels
(``ising_cpu.py``); the random-number layout (docs/rng.md) gives every site two random bytes,
so that one Philox block serves 8 sites:

- Site k of a colour class reads half-word k of the Metropolis stream (bits 16 (k % 2) and up
  of word k // 2): its low byte ``p`` proposes, its high byte ``a`` is the top byte of the
  acceptance number.
- Proposal: s' = (s + delta) % q. With m = q - 1 and c = 256 // m, a byte p < m c gives
  delta = 1 + p // c (exactly uniform over 1..m); a byte in the tail p >= m c (256 % m bytes,
  none when m divides 256) falls back to delta = 1 + ((w * m) >> 32), w = word 2k + 1 of the
  tie stream (uniform to within 2**-32, as every proposal was before).
- Acceptance: the 32-bit number u = a 2**24 + (word 2k of the tie stream >> 8) against
  table[index], index = ((s * (q - 1) + delta - 1) * q^z + sum_j d_j q^(z-1-j)),
  d_j = (s - n_j) mod q for the neighbours in the order (up, down, left, right) in 2D and
  (left, right) in 1D. The uint64 table (built by the model on the host) holds
  floor(2**32 exp(-dE / T)), 2**32 when dE <= 0: any bond energy e(d) and site energy f(s) fit
  this one mechanism. The byte a alone decides unless it equals the threshold's top byte.

The kernels decide a class row in two passes, as the Ising ones: first every site whose
proposal byte is not in the tail and whose acceptance byte differs from the threshold's top byte
(branch-free; the site is left alone and marked otherwise), then the marked sites with one
Philox block of the tie stream each (words 2k and 2k + 1 are in the same block). The decisions
are those of the exact one-pass rule.
"""
import sys

import numba
import numpy as np

from ... import use_kernel_cache
from ...rng.philox import fill_words, philox4x32
from ...rng.streams import Purpose
from .ising_cpu import checkerboard_tables, ring_colour_class

use_kernel_cache()  # before any cache=True function

SMALL_L = 32  # up to this side a colour class is one loop over neighbour tables, not row by row

_METROPOLIS = int(Purpose.METROPOLIS)
_TIE = int(Purpose.METROPOLIS_TIE)
assert sys.byteorder == "little", "the kernels read Philox words as little-endian half-words"


@numba.njit(cache=True)
def proposal_constants(q):
    """(c, tail, mul) for q states: c = 256 // (q - 1) proposal bytes per step delta, bytes
    p >= tail = (q - 1) c fall back to the tail word, and (p * mul) >> 16 = p // c for every
    byte p < 256 (mul = ceil(2**16 / c), exact since c <= 256; the tests check every q)."""
    m = q - 1
    c = 256 // m
    return c, m * c, (65536 + c - 1) // c


@numba.njit(inline="always", cache=True)
def _top_table(table):
    """The table's top bytes min(t >> 24, 256) as int32: a byte a accepts iff a < top, and ties
    (the exact comparison needs the low 24 bits) iff a == top."""
    top = np.empty(table.size, np.int32)
    for j in range(table.size):
        t = table[j]
        top[j] = np.int32(256) if t >= np.uint64(1 << 32) else np.int32(t >> np.uint64(24))
    return top


@numba.njit(inline="always", cache=True)
def _relative(si, nj, q):
    """(si - nj) mod q for states in 0..q-1, without a division."""
    d = si - np.int32(nj)
    return d + q * (d < 0)


@numba.njit(inline="always", cache=True)
def _neighbours_2d(si, nu, nd, nl, nr, q):
    """sum_j d_j q^(3 - j) for the neighbour states (up, down, left, right) of state si."""
    return ((_relative(si, nu, q) * q + _relative(si, nd, q)) * q + _relative(si, nl, q)) * q + _relative(si, nr, q)


@numba.njit(inline="always", cache=True)
def _proposal(hw, tail, mul):
    """(p, a, step, ok) of half-word hw: proposal byte p, acceptance byte a, step = delta - 1 =
    p // c when ok = p < tail, else 0 (any valid table index: the site is left to the second
    pass). int32 values, ok 0 or 1."""
    p = np.int32(hw) & np.int32(0xFF)
    a = np.int32(hw) >> np.int32(8)
    ok = np.int32(p < tail)
    return p, a, np.int32(((p * mul) >> np.int32(16)) * ok), ok


@numba.njit(inline="always", cache=True)
def _first(s, x, si, neighbours, hw, top, pending, i, q, m, qz, tail, mul):
    """First pass at site x of s (pending slot i) in state si (int32), with the neighbour part
    of the table index and the site's half-word hw: the update when the proposal byte is below
    the tail and the acceptance byte differs from the threshold's top byte; otherwise the site
    is left and pending[i] set. Branch-free. The scalar form of the three row loops below."""
    p, a, step, ok = _proposal(hw, tail, mul)
    t = top[np.uint64((si * m + step) * qz + neighbours)]
    pending[i] = (a == t) | (p >= tail)
    new = si + (np.int32(a < t) & ok) * (step + np.int32(1))
    s[x] = np.int8(new - q * np.int32(new >= q))


# The first pass over n consecutive class sites j = 0 .. n - 1 of a row (or ring) at positions
# x = x1 + 2 j, none of which wraps: three loops (table index, top-byte gather, decision), each
# simple enough for LLVM to vectorise. Checked with inspect_asm on an AVX-512 host: the index
# loops (int8 loads with stride 2) and _decide_pairs in zmm registers, _gather with vpgather;
# the ring's _decide vectorises all but its byte-strided stores.

@numba.njit(cache=True, nogil=True)
def _index_2d(row, above, below, x1, hws, k1, n, index, q, m, qz, tail, mul):
    """index[j] = table index of class site j (half-word hws[k1 + j]): neighbours up, down,
    left, right."""
    one, two = np.uint64(1), np.uint64(2)
    for j in range(np.uint64(0), np.uint64(n)):
        x = x1 + two * j
        si = np.int32(row[x])
        _, _, step, _ = _proposal(hws[k1 + j], tail, mul)
        index[j] = np.int32((si * m + step) * qz + _neighbours_2d(si, above[x], below[x], row[x - one],
                                                                  row[x + one], q))


@numba.njit(cache=True, nogil=True)
def _index_1d(s, x1, hws, k1, n, index, q, m, qz, tail, mul):
    """Ring twin of :func:`_index_2d`: neighbours left, right."""
    one, two = np.uint64(1), np.uint64(2)
    for j in range(np.uint64(0), np.uint64(n)):
        x = x1 + two * j
        si = np.int32(s[x])
        _, _, step, _ = _proposal(hws[k1 + j], tail, mul)
        index[j] = np.int32((si * m + step) * qz + _relative(si, s[x - one], q) * q + _relative(si, s[x + one], q))


@numba.njit(cache=True, nogil=True)
def _gather(index, n, top):
    """index[j] <- top[index[j]]: the threshold top bytes."""
    for j in range(np.uint64(0), np.uint64(n)):
        index[j] = top[np.uint64(index[j])]


@numba.njit(cache=True, nogil=True)
def _decide(s, x1, hws, k1, n, top_bytes, pending, i1, q, tail, mul):
    """Update class site j (x = x1 + 2 j) from its half-word and threshold top byte, or leave it
    and set pending[i1 + j]."""
    two = np.uint64(2)
    for j in range(np.uint64(0), np.uint64(n)):
        x = x1 + two * j
        si = np.int32(s[x])
        p, a, step, ok = _proposal(hws[k1 + j], tail, mul)
        t = top_bytes[j]
        pending[i1 + j] = (a == t) | (p >= tail)
        new = si + (np.int32(a < t) & ok) * (step + np.int32(1))
        s[x] = np.int8(new - q * np.int32(new >= q))


@numba.njit(cache=True, nogil=True)
def _decide_pairs(pairs, shift, hws, k1, n, top_bytes, pending, q, tail, mul):
    """:func:`_decide` for a 2D row read as uint16 pairs of sites (2j, 2j + 1): class site j is
    byte shift / 8 of pairs[j + 1] (x1 = x0 + 2, pending slot j + 1); contiguous 16-bit loads
    and stores instead of byte-strided ones."""
    one = np.uint64(1)
    keep = np.int32(0xFF00) >> shift
    for j in range(np.uint64(0), np.uint64(n)):
        v = np.int32(pairs[j + one])
        si = (v >> shift) & np.int32(0xFF)
        p, a, step, ok = _proposal(hws[k1 + j], tail, mul)
        t = top_bytes[j]
        pending[j + one] = (a == t) | (p >= tail)
        new = si + (np.int32(a < t) & ok) * (step + np.int32(1))
        new = new - q * np.int32(new >= q)
        pairs[j + one] = np.uint16((v & keep) | (new << shift))


@numba.njit(inline="always", cache=True)
def _settle(s, i, neighbours, table, k, q, qz, tail, mul, hw, step_count, replica, c3_tie, k0, k1):
    """Second pass at pending flat site i (class site k): the proposal from the tail word when
    its byte is in the tail, the exact 32-bit acceptance comparison with the tie word (both
    words of one Philox block of the tie stream)."""
    w = philox4x32(np.uint64(k >> 1), np.uint64(step_count), np.uint64(replica), c3_tie, k0, k1)
    odd = (k & 1) == 1
    tie_word = w[2] if odd else w[0]
    tail_word = w[3] if odd else w[1]
    si = np.int64(s[i])
    p = np.int64(hw & np.uint16(0xFF))
    if p < tail:  # noqa: SIM108 - the two draws of the kernel, kept apart
        delta = 1 + ((p * mul) >> 16)
    else:
        delta = 1 + np.int64((tail_word * np.uint64(q - 1)) >> np.uint64(32))
    index = np.int64(0)
    for nj in neighbours:
        d = si - np.int64(s[nj])
        index = index * q + d + q * (d < 0)
    index += (si * (q - 1) + delta - 1) * qz
    u = (np.uint64(hw >> np.uint16(8)) << np.uint64(24)) | (tie_word >> np.uint64(8))
    if u < table[np.uint64(index)]:
        new = si + delta
        s[i] = np.int8(new - q * (new >= q))


@numba.njit(inline="always", cache=True)
def _constants(q, z, point, k0, k1):
    """The kernels' constants: the Metropolis and tie streams' c3, the key, q and q - 1 (int32),
    q**z (int64), the proposal's tail and multiplier (int32) and q**z as int32."""
    _, tail, mul = proposal_constants(q)
    qz = np.int64(q) ** z
    return (np.uint64(point * 256 + _METROPOLIS), np.uint64(point * 256 + _TIE), np.uint64(k0), np.uint64(k1),
            np.int32(q), np.int32(q - 1), qz, np.int32(tail), np.int32(mul), np.int32(qz))


@numba.njit(cache=True, nogil=True)
def metropolis_q_2d(spins, table, q, k0, k1, point, sweep_start, n_sweeps):
    """Advance every replica (int8 (R, L, L), states 0..q-1) by ``n_sweeps`` sweeps; table:
    uint64 (q (q - 1) q^4,), the model's thresholds; k0, k1: Philox key; point: global flat
    grid index; sweep_start: sweeps done so far. Lattices up to SMALL_L a side go class by class
    (:func:`_metropolis_q_2d_small`), larger ones row by row (:func:`_metropolis_q_2d_rows`)."""
    if spins.shape[1] <= SMALL_L:
        _metropolis_q_2d_small(spins, table, q, k0, k1, point, sweep_start, n_sweeps)
    else:
        _metropolis_q_2d_rows(spins, table, q, k0, k1, point, sweep_start, n_sweeps)


@numba.njit(cache=True, nogil=True)
def _metropolis_q_2d_rows(spins, table, q, k0, k1, point, sweep_start, n_sweeps):
    """:func:`metropolis_q_2d` row by row: each row of a class is decided in two passes, the
    two ends (which may wrap) one by one and the interior in three vectorisable loops, then the
    rare pending sites (module docstring). Any L."""
    n_rep, L, _ = spins.shape
    half = L // 2
    n_sites = L * half
    words = np.empty(((n_sites + 7) // 8) * 4, dtype=np.uint32)
    hws = words.view(np.uint16)
    top = _top_table(table)
    pending = np.zeros(half, np.bool_)
    index = np.empty(max(half - 2, 1), np.int32)
    c3, c3_tie, kk0, kk1, qi, m, qz, tail, mul, qz32 = _constants(q, 4, point, k0, k1)
    inner = max(half - 2, 0)
    ends = (0, half - 1) if half > 1 else (0, 0)
    for r in range(n_rep):
        flat_s = np.ascontiguousarray(spins[r]).reshape(L * L)  # the replica itself unless spins is strided
        s = flat_s.reshape(L, L)
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                step = sweep * 2 + colour
                fill_words(words, 0, (n_sites + 1) // 2, step, r, c3, kk0, kk1)
                for y in range(L):
                    row = s[y]
                    above = s[y - 1 if y > 0 else L - 1]
                    below = s[y + 1 if y < L - 1 else 0]
                    x0 = (y + colour) & 1
                    kb = y * half
                    for e in range(1 if half == 1 else 2):  # the ends of the row, which may wrap
                        i = ends[e]
                        x = x0 + 2 * i
                        si = np.int32(row[x])
                        nbi = _neighbours_2d(si, above[x], below[x], row[x - 1 if x > 0 else L - 1],
                                             row[x + 1 if x < L - 1 else 0], qi)
                        _first(row, x, si, nbi, hws[kb + i], top, pending, i, qi, m, qz32, tail, mul)
                    if inner > 0:  # the interior, sites i = 1 .. half - 2
                        x1, k1 = np.uint64(x0 + 2), np.uint64(kb + 1)
                        _index_2d(row, above, below, x1, hws, k1, inner, index, qi, m, qz32, tail, mul)
                        _gather(index, inner, top)
                        _decide_pairs(row.view(np.uint16), np.int32(8 * x0), hws, k1, inner, index, pending, qi, tail,
                                      mul)
                    for i in range(half):
                        if not pending[i]:
                            continue
                        x = x0 + 2 * i
                        flat = y * L
                        nbs = ((y - 1 if y > 0 else L - 1) * L + x, (y + 1 if y < L - 1 else 0) * L + x,
                               flat + (x - 1 if x > 0 else L - 1), flat + (x + 1 if x < L - 1 else 0))
                        _settle(flat_s, flat + x, nbs, table, kb + i, q, qz, tail, mul, hws[kb + i], step, r,
                                c3_tie, kk0, kk1)
        spins[r] = s  # a no-op on the replica itself; the copy back for a strided view


@numba.njit(cache=True, nogil=True)
def _metropolis_q_2d_small(spins, table, q, k0, k1, point, sweep_start, n_sweeps):
    """:func:`metropolis_q_2d` for small lattices (batches of many replicas): each colour class
    is one loop over precomputed flat site and neighbour indices (row-major class order), in the
    same two passes."""
    n_rep, L, _ = spins.shape
    n_sites = L * (L // 2)
    tables = checkerboard_tables(L)
    words = np.empty(((n_sites + 7) // 8) * 4, dtype=np.uint32)
    hws = words.view(np.uint16)
    top = _top_table(table)
    pending = np.zeros(n_sites, np.bool_)
    c3, c3_tie, kk0, kk1, qi, m, qz, tail, mul, qz32 = _constants(q, 4, point, k0, k1)
    for r in range(n_rep):
        s = np.ascontiguousarray(spins[r]).reshape(L * L)  # the replica itself unless spins is strided
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                step = sweep * 2 + colour
                fill_words(words, 0, (n_sites + 1) // 2, step, r, c3, kk0, kk1)
                site, up, down, left, right = tables[colour]
                for k in range(n_sites):
                    x = site[k]
                    si = np.int32(s[x])
                    nbi = _neighbours_2d(si, s[up[k]], s[down[k]], s[left[k]], s[right[k]], qi)
                    _first(s, x, si, nbi, hws[k], top, pending, k, qi, m, qz32, tail, mul)
                for k in range(n_sites):
                    if pending[k]:
                        _settle(s, site[k], (up[k], down[k], left[k], right[k]), table, k, q, qz, tail, mul, hws[k],
                                step, r, c3_tie, kk0, kk1)
        spins[r] = s.reshape(L, L)  # a no-op on the replica itself; the copy back for a strided view


@numba.njit(cache=True, nogil=True)
def metropolis_q_1d(spins, table, q, k0, k1, point, sweep_start, n_sweeps):
    """Ring twin of :func:`metropolis_q_2d`: spins int8 (R, N); colours as for Ising rings;
    table uint64 (q (q - 1) q^2,)."""
    n_rep, n = spins.shape
    n_colours = 2 + (n & 1)
    count0 = (n + 1) // 2
    words = np.empty(((count0 + 7) // 8) * 4, dtype=np.uint32)
    hws = words.view(np.uint16)
    top = _top_table(table)
    pending = np.zeros(count0, np.bool_)
    index = np.empty(max(count0 - 2, 1), np.int32)
    c3, c3_tie, kk0, kk1, qi, m, qz, tail, mul, qz32 = _constants(q, 2, point, k0, k1)
    for r in range(n_rep):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(n_colours):
                step = sweep * n_colours + colour
                start, count = ring_colour_class(n, colour)
                fill_words(words, 0, (count + 1) // 2, step, r, c3, kk0, kk1)
                for e in range(1 if count == 1 else 2):  # the two ends of the class, which may wrap
                    k = e * (count - 1)
                    i = start + 2 * k
                    si = np.int32(s[i])
                    nbi = _relative(si, s[(i + n - 1) % n], qi) * qi + _relative(si, s[(i + 1) % n], qi)
                    _first(s, i, si, nbi, hws[k], top, pending, k, qi, m, qz32, tail, mul)
                inner = count - 2
                if inner > 0:  # the interior, class sites k = 1 .. count - 2
                    x1 = np.uint64(start + 2)
                    _index_1d(s, x1, hws, np.uint64(1), inner, index, qi, m, qz32, tail, mul)
                    _gather(index, inner, top)
                    _decide(s, x1, hws, np.uint64(1), inner, index, pending, np.uint64(1), qi, tail, mul)
                for k in range(count):
                    if not pending[k]:
                        continue
                    i = start + 2 * k
                    _settle(s, i, ((i + n - 1) % n, (i + 1) % n), table, k, q, qz, tail, mul, hws[k], step, r,
                            c3_tie, kk0, kk1)


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
