"""Array backend chosen once per run and passed along as ``xp``.

CPU-only machines without CuPy never import it; "auto" picks the GPU only when CuPy imports
and sees a device. Each rank takes device ``local_rank % device_count`` (local rank from a
shared-memory split of the communicator). On the GPU run the Metropolis kernels, RBM training
and its log-likelihoods, the flows and the neural thermometer (their arrays stay on the device;
files and collectives go through the host); cluster updates and the analysis run on the CPU.
"""
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Backend:
    name: str  # "cpu" | "gpu"
    xp: object  # numpy or cupy
    device: str  # human-readable device description
    runner: object = None  # what launches the CUDA kernels (cuda.CupyRunner; tests pass the CPU emulator)


def array_module(array):
    """numpy, or cupy for a CuPy array (CuPy is never imported here)."""
    return sys.modules["cupy"] if type(array).__module__.startswith("cupy") else np


def to_host(array):
    """A NumPy array of ``array`` (copied from the device for a CuPy array)."""
    return array.get() if array_module(array) is not np else np.asarray(array)


def to_module(array, xp):
    """``array`` as an array of the module ``xp`` (numpy or cupy), copied only across devices."""
    return to_host(array) if xp is np else xp.asarray(array)


def _gpu_backend(comm):
    """A GPU Backend for this rank (device local_rank % device_count), or None."""
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no device: no GPU
        return None
    if count < 1:
        return None
    device = (comm.local_rank() if comm is not None else 0) % count
    cupy.cuda.Device(device).use()
    props = cupy.cuda.runtime.getDeviceProperties(device)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    from .cuda import CupyRunner
    return Backend("gpu", cupy, f"gpu {device} of {count}: {name}", CupyRunner())


def select_backend(name, comm=None):
    """Resolve "auto" | "cpu" | "gpu" to a Backend; "auto" takes a GPU when CuPy sees one."""
    import platform
    cpu = Backend("cpu", np, f"cpu ({platform.processor() or platform.machine()})")
    if name == "cpu":
        return cpu
    if name not in ("auto", "gpu"):
        raise InputError(f"config key run.backend: {name!r} is not one of 'auto', 'cpu', 'gpu'")
    gpu = _gpu_backend(comm)
    if gpu is None and name == "gpu":
        raise InputError("config key run.backend: 'gpu' needs CuPy and a CUDA device; none found (use 'auto' or 'cpu')")
    return gpu or cpu
