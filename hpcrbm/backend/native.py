"""hpcrbm's C libraries, built on the machine that runs them with the system's C compiler into the
kernel cache (hpcrbm.kernel_cache_dir) and loaded into the process so that numba's kernels call
their functions by symbol name (numba ``types.ExternalFunction``): the AMX products and layers of
the training update (rbm/kernels/int8_products.py) and the node sum of the communicator
(parallel/node_sum.py)."""
import ctypes
import hashlib
import os
import subprocess

import llvmlite.binding as llvm

from .. import kernel_cache_dir


def built_library(stem, sources, flags, optional_flags=((),)):
    """Path of the library ``stem-<digest>.so`` built from ``sources`` (Paths) with ``cc`` and
    ``flags``, the first of ``optional_flags`` that builds added (e.g. OpenMP where the compiler
    has it); None where it cannot be built (no C compiler, a failed build). The digest covers the
    sources, the flags and the host CPU (``-march=native``: a cache shared by nodes of several
    kinds keeps one library per kind). Ranks building at once each install a whole library."""
    digest = hashlib.sha256(" ".join(flags).encode())
    for source in sources:
        digest.update(source.read_bytes())
    digest.update(f"{llvm.get_host_cpu_name()} {llvm.get_host_cpu_features().flatten()}".encode())
    target = kernel_cache_dir() / f"{stem}-{digest.hexdigest()[:16]}.so"
    if target.exists():
        return target
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    command = ["cc", *flags, "-shared", "-fPIC", "-o", str(partial), *map(str, sources)]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        built = any(subprocess.run(command + list(extra), capture_output=True).returncode == 0
                    for extra in optional_flags)
    except OSError:
        return None
    if not built:
        return None
    os.replace(partial, target)  # atomic
    return target


def load(path):
    """The library at ``path`` as a ctypes.CDLL, its symbols made visible to numba's kernels."""
    library = ctypes.CDLL(str(path))
    llvm.load_library_permanently(str(path))
    return library
