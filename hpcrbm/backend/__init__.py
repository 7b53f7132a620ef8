"""Array backend chosen once per run and passed along as ``xp``.

CPU-only machines never import CuPy; "auto" picks the GPU only when CuPy imports and sees
a device. The Monte Carlo GPU kernels are a later stage: today "gpu" is refused with a
clear message and "auto" resolves to the CPU.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Backend:
    name: str  # "cpu" | "gpu"
    xp: object  # numpy or cupy
    device: str  # human-readable device description


def select_backend(name: str) -> Backend:
    """Resolve "auto" | "cpu" | "gpu" to a Backend."""
    import platform
    cpu = Backend("cpu", np, f"cpu ({platform.processor() or platform.machine()})")
    if name == "cpu":
        return cpu
    if name in ("auto", "gpu"):
        if name == "gpu":
            raise InputError("config key run.backend: 'gpu' Monte Carlo kernels are not available yet; "
                             "use 'cpu' or 'auto'")
        return cpu
    raise InputError(f"config key run.backend: {name!r} is not one of 'auto', 'cpu', 'gpu'")
