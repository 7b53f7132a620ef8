"""Cluster updates at zero field: Wolff and Swendsen-Wang, for Ising (+-1) and Potts (0..q-1).

Lattices are given as flat spins (R, N) and a neighbour table (N, z) whose first z / 2
columns are the forward neighbours (right, down); each periodic bond appears once as a
forward pair. A bond between equal states is activated when word < p_add, the uint64
threshold floor(2**32 (1 - exp(-2 J / T))) for Ising, floor(2**32 (1 - exp(-J / T))) for Potts.

Random words (docs/rng.md, purpose CLUSTER):
- Wolff, sweep t: a running index w = 0, 1, ... over every draw of the sweep, in program
  order (seed site: (word * N) >> 32; new Potts state: s + 1 + ((word * (q - 1)) >> 32);
  then one word per tested bond), counter (w // 4, t, replica, point * 256 + CLUSTER).
  During thermalisation a sweep grows clusters until at least N spins have been flipped
  and the mean cluster size is measured; afterwards a sweep is a fixed number of clusters,
  round(N / mean size), so that the measurement times are not a state-dependent stopping
  time (which would bias averages towards states just after large clusters).
- Swendsen-Wang, sweep t: bond b = i * (z / 2) + j (site i, forward direction j) uses word b
  of step 2 t; the cluster whose smallest site index is i takes its new state from word i of
  step 2 t + 1 (Ising: +1 iff word < 2**31; Potts: (word * q) >> 32).
"""
import numba
import numpy as np

from ... import use_kernel_cache
from ...rng.philox import fill_words, philox4x32
from ...rng.streams import Purpose

use_kernel_cache()  # before any cache=True function

_CLUSTER = int(Purpose.CLUSTER)


@numba.njit(inline="always", cache=True)
def _word(cache, w, step, replica, c3, k0, k1):
    """Word w of a (step, replica, c3) stream, refilling a 4-word cache at block starts."""
    if w % 4 == 0:
        a, b, c, d = philox4x32(np.uint64(w // 4), np.uint64(step), np.uint64(replica), c3, k0, k1)
        cache[0], cache[1], cache[2], cache[3] = a, b, c, d
    return np.uint64(cache[w % 4])


@numba.njit(cache=True, nogil=True)
def wolff(spins, neighbours, p_add, q, ising, k0, k1, point, sweep_start, n_sweeps, clusters_per_sweep):
    """Wolff single-cluster updates. spins int8 (R, N).

    clusters_per_sweep = 0: grow clusters until at least N spins flipped (thermalisation);
    otherwise exactly that many clusters per sweep. Returns (clusters, spins flipped) in all.
    """
    n_rep, n = spins.shape
    z = neighbours.shape[1]
    stack = np.empty(n, dtype=np.int64)
    cache = np.empty(4, dtype=np.uint64)
    c3 = np.uint64(point * 256 + _CLUSTER)
    kk0, kk1 = np.uint64(k0), np.uint64(k1)
    s32 = np.uint64(32)
    total_clusters = 0
    total_flipped = 0
    for r in range(n_rep):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            w = 0
            flipped = 0
            clusters = 0
            while (flipped < n) if clusters_per_sweep == 0 else (clusters < clusters_per_sweep):
                clusters += 1
                seed_site = np.int64((_word(cache, w, sweep, r, c3, kk0, kk1) * np.uint64(n)) >> s32)
                w += 1
                old = s[seed_site]
                if ising:
                    new = -old
                else:
                    shift = 1 + np.int64((_word(cache, w, sweep, r, c3, kk0, kk1) * np.uint64(q - 1)) >> s32)
                    w += 1
                    new = np.int8((old + shift) % q)
                s[seed_site] = new
                stack[0] = seed_site
                top = 1
                flipped += 1
                while top > 0:
                    top -= 1
                    i = stack[top]
                    for j in range(z):
                        nb = neighbours[i, j]
                        if s[nb] == old:
                            accept = _word(cache, w, sweep, r, c3, kk0, kk1) < p_add
                            w += 1
                            if accept:
                                s[nb] = new
                                stack[top] = nb
                                top += 1
                                flipped += 1
            total_clusters += clusters
            total_flipped += flipped
    return total_clusters, total_flipped


@numba.njit(inline="always", cache=True)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True, nogil=True)
def swendsen_wang(spins, neighbours, p_add, q, ising, k0, k1, point, sweep_start, n_sweeps):
    """Swendsen-Wang updates (every cluster gets a new uniform state). spins int8 (R, N)."""
    n_rep, n = spins.shape
    forward = neighbours.shape[1] // 2
    parent = np.empty(n, dtype=np.int64)
    new_state = np.empty(n, dtype=np.int8)
    bond_words = np.empty(((n * forward + 3) // 4) * 4, dtype=np.uint32)
    site_words = np.empty(((n + 3) // 4) * 4, dtype=np.uint32)
    c3 = np.uint64(point * 256 + _CLUSTER)
    kk0, kk1 = np.uint64(k0), np.uint64(k1)
    for r in range(n_rep):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            fill_words(bond_words, 0, n * forward, 2 * sweep, r, c3, kk0, kk1)
            fill_words(site_words, 0, n, 2 * sweep + 1, r, c3, kk0, kk1)
            for i in range(n):
                parent[i] = i
            for i in range(n):
                for d in range(forward):
                    j = neighbours[i, d]
                    if s[i] == s[j] and np.uint64(bond_words[i * forward + d]) < p_add:
                        a, b = _find(parent, i), _find(parent, j)
                        if a < b:
                            parent[b] = a
                        elif b < a:
                            parent[a] = b
            for i in range(n):
                root = _find(parent, i)
                if root == i:
                    word = np.uint64(site_words[i])
                    if ising:
                        new_state[i] = 1 if word < np.uint64(1 << 31) else -1
                    else:
                        new_state[i] = np.int8((word * np.uint64(q)) >> np.uint64(32))
                s[i] = new_state[root]
