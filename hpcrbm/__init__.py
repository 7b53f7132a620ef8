"""hpcrbm: Monte Carlo spin models, RBMs and RBM flows on MPI clusters and GPUs."""
import hashlib
import os
from pathlib import Path

__version__ = "0.1.0"


def _numba_cache_dir():
    """Key numba's on-disk cache by the kernel sources (numba only checks the file that holds a
    function, not the helpers it inlines from other files, so an edit to rng/philox.py could
    otherwise leave stale compiled kernels). Respects a NUMBA_CACHE_DIR set by the user."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted([*here.glob("rng/*.py"), *here.glob("montecarlo/kernels/*.py")]):
        digest.update(path.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    os.environ["NUMBA_CACHE_DIR"] = str(base / "hpcrbm" / "numba" / digest.hexdigest()[:16])


_numba_cache_dir()
