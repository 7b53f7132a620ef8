"""Geometry and initial states shared by every spin model: a periodic L x L square lattice
(dim = 2) or a ring of L sites (dim = 1)."""
import numpy as np

from ..rng.streams import Purpose, counter_words


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

    def initial_state(self, seed, point, replicas, start="ordered"):
        """int8 (R, *lattice) initial states.

        "up": every site in ``up_state``. "random": each site from its own word. "ordered":
        every site of a replica takes the "random" value of its site 0 (a uniform start that
        avoids Metropolis' frozen stripes at low T). Words: INITIAL_STATE stream, step 0,
        index = site (row-major).
        """
        shape = (replicas,) + self.lattice_shape
        if start == "up":
            return np.full(shape, self.up_state, dtype=np.int8)
        spins = np.empty(shape, dtype=np.int8)
        sites = np.arange(1 if start == "ordered" else self.n_sites)
        for r in range(replicas):
            states = self.states_from_words(counter_words(seed, point, r, 0, sites, Purpose.INITIAL_STATE))
            spins[r] = states[0] if start == "ordered" else states.reshape(self.lattice_shape)
        return spins
