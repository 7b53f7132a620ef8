"""Provenance attributes carried by every output file."""
import datetime
import functools
import subprocess
from pathlib import Path

import h5py
import numpy as np

from .. import __version__


@functools.lru_cache(maxsize=1)
def git_revision():
    """The git commit of the hpcrbm source tree, or "" when not in a git checkout (asked once
    per process)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def provenance(comm, backend, seed, start_time, strategy):
    """Attributes identical on every rank (mpio writes attributes collectively): ``start_time``
    must be the same on every rank (simulate broadcasts rank 0's)."""
    return {
        "hpcrbm_version": __version__,
        "git_revision": git_revision(),
        "seed": np.uint64(seed),
        "ranks": comm.size,
        "backend": backend.name,
        "device": backend.device,
        "writer": strategy,
        "h5py_version": h5py.version.version,
        "hdf5_version": h5py.version.hdf5_version,
        "mpi_version": comm.describe(),
        "numpy_version": np.__version__,
        "start_time": start_time,
        "conventions": "k_B = 1; periodic boundaries; Ising H = -J sum s_i s_j - h sum s_i, s = +-1; "
                       "energy and magnetization per site",
    }
