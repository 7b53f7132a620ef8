"""hpcrbm: Monte Carlo spin models, RBMs and RBM flows on MPI clusters and GPUs.

Importing the package changes nothing outside it: no environment variable, no global setting.
The command line (``hpcrbm.cli.main``) sizes the BLAS thread pools under an MPI launcher, and the
kernel modules call ``use_kernel_cache()`` before they define their cached numba functions.
"""
import hashlib
import os
from pathlib import Path

__version__ = "0.1.0"

_HERE = Path(__file__).resolve().parent
_KERNEL_SOURCES = ("rng/*.py", "montecarlo/kernels/*.py", "rbm/kernels/*.py", "rbm/kernels/*.c")
_kernel_cache_installed = False


def kernel_cache_dir():
    """Where hpcrbm's compiled numba kernels go unless NUMBA_CACHE_DIR is set:
    ``$XDG_CACHE_HOME/hpcrbm/numba/<digest>`` (default ``~/.cache``), the digest taken over every
    kernel source. numba checks only the file that holds a function, not the helpers it inlines from
    other files, so keying the directory by all of them keeps an edit to rng/philox.py from leaving
    stale compiled kernels behind."""
    digest = hashlib.sha256()
    for path in sorted(p for pattern in _KERNEL_SOURCES for p in _HERE.glob(pattern)):
        digest.update(path.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hpcrbm" / "numba" / digest.hexdigest()[:16]


def use_kernel_cache():
    """Send the cache of hpcrbm's own ``cache=True`` functions, and only theirs, to
    ``kernel_cache_dir()``; called at the top of each kernel module, before it defines them (numba
    picks a function's cache directory when the decorator runs). Idempotent.

    A NUMBA_CACHE_DIR set by the user (or numba.config.CACHE_DIR) wins: numba then uses it as usual.
    Done with a cache locator put first in numba's list of them that answers only for files of this
    package, so neither os.environ nor numba.config changes and other packages' numba caches stay
    where they were. A numba without that list (it is internal) gets numba.config.CACHE_DIR instead,
    unless already set. A damaged cache file of hpcrbm's is dropped and its kernel compiled again."""
    global _kernel_cache_installed
    if _kernel_cache_installed:
        return
    _kernel_cache_installed = True
    from numba.core import caching, config

    directory = str(kernel_cache_dir())
    root = str(_HERE) + os.sep
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    if not isinstance(getattr(impl, "_locator_classes", None), list):
        if not config.CACHE_DIR:
            config.CACHE_DIR = directory
        return

    class KernelCacheLocator(caching.UserProvidedCacheLocator):
        """numba's locator for NUMBA_CACHE_DIR, with hpcrbm's directory, for hpcrbm's files only."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = os.path.join(directory, self.get_suitable_cache_subpath(py_file))

        @classmethod
        def from_function(cls, py_func, py_file):
            if config.CACHE_DIR or not os.path.realpath(py_file).startswith(root):
                return None
            return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)

    impl._locator_classes.insert(0, KernelCacheLocator)
    _recover_damaged_caches(caching, KernelCacheLocator)


def _recover_damaged_caches(caching, locator_class):
    """A damaged cache file of one of hpcrbm's kernels (a truncated or garbled index or data file:
    numba raises while unpickling it, on every run) is dropped with one WARNING line and the kernel
    compiled again; numba's caches of other packages behave as before."""
    def recovering(method, after_reset):
        def wrapped(self, *args):
            try:
                return method(self, *args)
            except Exception as exc:  # noqa: BLE001 - whatever unpickling a damaged file raises
                if not isinstance(getattr(self._impl, "locator", None), locator_class):
                    raise
                import logging
                logging.getLogger("hpcrbm").warning("%s: damaged numba cache of %s (%s); compiling it again",
                                                    self._cache_path, self._py_func.__name__, type(exc).__name__)
                self._cache_file.flush()  # an empty index: the damaged entries are forgotten
                return after_reset(self, *args)
        return wrapped
    caching.Cache.load_overload = recovering(caching.Cache.load_overload, lambda self, *args: None)
    caching.Cache.save_overload = recovering(caching.Cache.save_overload, caching.Cache.save_overload)
