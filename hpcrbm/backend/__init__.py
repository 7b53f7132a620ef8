"""Array backend chosen once per run and passed along as ``xp``.

CPU-only machines without CuPy never import it; "auto" picks the GPU only when CuPy imports
and sees a device. Each rank takes device ``local_rank % device_count`` (local rank from a
shared-memory split of the communicator). The GPU runs the Metropolis kernels; the RBM,
flows and cluster updates run on the CPU.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Backend:
    name: str  # "cpu" | "gpu"
    xp: object  # numpy or cupy
    device: str  # human-readable device description
    runner: object = None  # what launches the GPU kernels (None: CuPy; tests pass the CPU emulator)


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
    return Backend("gpu", cupy, f"gpu {device} of {count}: {name}")


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
