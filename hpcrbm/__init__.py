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
    for path in sorted([*here.glob("rng/*.py"), *here.glob("montecarlo/kernels/*.py"), *here.glob("rbm/kernels/*.py")]):
        digest.update(path.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    os.environ["NUMBA_CACHE_DIR"] = str(base / "hpcrbm" / "numba" / digest.hexdigest()[:16])


def _blas_threads():
    """Under an MPI launcher, give each rank's BLAS its share of the cores (cores / ranks on this
    node) unless the user set a thread count: BLAS threads of several ranks spinning on the same
    cores slow every rank down many times over. Runs before NumPy loads its BLAS."""
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    if any(name in os.environ for name in names):
        return
    for variable in ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"):
        local = os.environ.get(variable, "").split("(")[0]
        if local.isdigit() and int(local) > 0:
            threads = max(1, len(os.sched_getaffinity(0)) // int(local))
            for name in names:
                os.environ[name] = str(threads)
            return


_numba_cache_dir()
_blas_threads()
