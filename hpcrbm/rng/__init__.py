"""Counter-based random numbers: Philox4x32-10 keyed by the run seed.

Every random word is a pure function of (seed, grid point, replica, sweep, site, purpose);
see :mod:`hpcrbm.rng.streams` for the layout and docs/rng.md for the rationale.
"""
from .streams import Purpose, counter_words

__all__ = ["philox4x32", "philox4x32_numpy", "seed_key", "Purpose", "counter_words"]
_PHILOX = ("philox4x32", "philox4x32_numpy", "seed_key")


def __getattr__(name):
    """The Philox functions, imported on first use: philox.py loads numba (half a second), which
    the config layer and commands that draw no random numbers should not pay for."""
    if name in _PHILOX:
        from . import philox
        return getattr(philox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
