"""Geometry and initial states shared by every spin model: a periodic L x L square lattice
(dim = 2) or a ring of L sites (dim = 1)."""
import numpy as np

from ..rng.philox import fill_words, seed_key
from ..rng.streams import Purpose, counter_words

CHUNK = 1 << 24  # random words per pass when drawing initial states (a multiple of 4)


class PeriodicLattice:
    """Mixin for model dataclasses with fields ``dim`` and ``L``; a model defines ``up_state``
    and ``states_from_words(words) -> int8 states``."""

    @property
    def lattice_shape(self):
        return (self.L,) * self.dim

    @property
    def n_sites(self):
        return self.L**self.dim

    @property
    def coordination(self):
        return 2 * self.dim

    def favoured_state(self, field):
        """The single state of lowest site energy in ``field`` (Ising: the field's sign), or
        None when several states tie (field 0)."""
        f = self.site_energy(field)
        lowest = np.flatnonzero(f == f.min())
        return int(self.states[lowest[0]]) if len(lowest) == 1 else None

    def initial_state(self, seed, point, replicas, start="ordered", field=0.0):
        """int8 (R, *lattice) initial states.

        "up": every site in ``up_state``. "random": each site from its own word. "ordered":
        every site in the state the field favours when it favours one; at zero field, every
        site of a replica takes the "random" value of its site 0 (a uniform start that avoids
        Metropolis' frozen stripes at low T, and in a field the metastable start against it).
        Words: INITIAL_STATE stream, step 0, index = site (row-major).
        """
        shape = (replicas,) + self.lattice_shape
        favoured = self.favoured_state(field) if start == "ordered" else None
        if start == "up" or favoured is not None:
            return np.full(shape, self.up_state if favoured is None else favoured, dtype=np.int8)
        spins = np.empty(shape, dtype=np.int8)
        if start == "ordered":
            for r in range(replicas):
                spins[r] = self.states_from_words(counter_words(seed, point, r, 0, [0], Purpose.INITIAL_STATE))[0]
            return spins
        k0, k1 = seed_key(seed)
        c3 = np.uint64(point * 256 + int(Purpose.INITIAL_STATE))
        words = np.empty(min(CHUNK, -(-self.n_sites // 4) * 4), dtype=np.uint32)
        for r in range(replicas):
            flat = spins[r].reshape(-1)
            for first in range(0, self.n_sites, CHUNK):  # chunks of words (same words as counter_words)
                n = min(CHUNK, self.n_sites - first)
                fill_words(words, first // 4, n, 0, r, c3, np.uint64(k0), np.uint64(k1))
                flat[first:first + n] = self.states_from_words(words[:n])
        return spins
