"""The package's CUDA module: every .cu source in one NVRTC RawModule (through CuPy), its
compile-time knobs, and the runner interface the kernels are launched through.

Sources live beside their CPU twins (rng/philox.cu beside rng/philox.py, the Metropolis kernels
in montecarlo/kernels/, the RBM's in rbm/) and are concatenated in dependency order, Philox
first. CuPy is imported only when a kernel is launched, so CPU-only machines never import it.
A runner is any object with ``xp`` (the array module of its arrays) and
``launch(name, grid, block, args, shared_mem=0)``: :class:`CupyRunner` on a GPU, the CPU
emulator of tests/cuda_emulator.py in CI.
"""
import os
from pathlib import Path

from ..errors import InputError

SOURCES = ("rng/philox.cu", "rng/uniform.cu", "montecarlo/kernels/lattice.cu", "montecarlo/kernels/ising.cu",
           "montecarlo/kernels/qstate.cu", "montecarlo/kernels/sweeps.cu", "montecarlo/kernels/ising_compact.cu",
           "montecarlo/kernels/ising_lanes.cu")
# compile-time knobs of the compact Ising kernel (docs/gpu.md, docs/benchmarks.md)
TUNED = {"COMPACT_ROWS": 16, "COMPACT_MIN_BLOCKS": 4, "COMPACT_UNROLL": 1}
_modules = {}


def cuda_source():
    """The whole CUDA module as one source string (also compiled by `nvcc` and by the emulator in the tests)."""
    package = Path(__file__).parent.parent
    return "\n".join((package / name).read_text() for name in SOURCES)


def tuning():
    """TUNED, with overrides from HPCRBM_GPU_DEFINES="NAME=int,..." (for benchmarks;
    COMPACT_ROWS must divide 32)."""
    values = dict(TUNED)
    for item in filter(None, (part.strip() for part in os.environ.get("HPCRBM_GPU_DEFINES", "").split(","))):
        name, _, value = item.partition("=")
        if name not in TUNED or not value.isdigit() or int(value) < 1 or (name == "COMPACT_ROWS" and 32 % int(value)):
            raise InputError(f"HPCRBM_GPU_DEFINES: {item!r} is not NAME=positive integer with NAME in "
                             f"{', '.join(TUNED)}"
                             " (COMPACT_ROWS a divisor of 32)")
        values[name] = int(value)
    return values


def compile_defines():
    """The -D options of the module: every knob of :func:`tuning`."""
    return tuple(f"-D{name}={value}" for name, value in sorted(tuning().items()))


def module():
    """The compiled module (NVRTC, cached per set of compile-time defines)."""
    options = ("--std=c++14",) + compile_defines()
    if options not in _modules:
        import cupy
        _modules[options] = cupy.RawModule(code=cuda_source(), options=options)
    return _modules[options]


class CupyRunner:
    """Launches the module's kernels on the current CUDA device; arrays are CuPy arrays."""

    @property
    def xp(self):
        import cupy
        return cupy

    def launch(self, name, grid, block, args, shared_mem=0):
        module().get_function(name)(grid, (block,), args, shared_mem=shared_mem)
