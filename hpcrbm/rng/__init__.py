"""Counter-based random numbers: Philox4x32-10 keyed by the run seed.

Every random word is a pure function of (seed, grid point, replica, sweep, site, purpose);
see :mod:`hpcrbm.rng.streams` for the layout and docs/rng.md for the rationale.
"""
from .philox import philox4x32, philox4x32_numpy, seed_key
from .streams import Purpose, counter_words

__all__ = ["philox4x32", "philox4x32_numpy", "seed_key", "Purpose", "counter_words"]
