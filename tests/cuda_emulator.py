"""The CUDA kernels compiled for the CPU: every block's threads run as std::threads with a real
barrier for __syncthreads, so CI machines without a GPU check the kernels' logic (indexing,
Philox counters, byte tricks, shared-memory phases) against the numba kernels bit for bit.

Not a GPU: memory-model subtleties, alignment faults and timing are not emulated; the GPU
tests in test_gpu_kernels.py remain the proof on a device. The emulation compiles the module's
sources unchanged apart from one textual rewrite (``extern __shared__`` arrays become a pointer
into the block's dynamic shared memory) with g++ -std=c++20; kernels are called through
:class:`EmulatedRunner`, the same interface CuPy is called through (backend/cuda.py).
"""
import ctypes
import re
import shutil
import subprocess

import numpy as np

from hpcrbm.backend.cuda import compile_defines, cuda_source

SHIM = r"""
#include <algorithm>
#include <barrier>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
struct dim3 { unsigned int x = 1, y = 1, z = 1; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) { return uint4{x, y, z, w}; }
thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
thread_local std::barrier<>* emu_barrier;
unsigned char* emu_dynamic_shared;
inline void __syncthreads() { emu_barrier->arrive_and_wait(); }
inline unsigned int __umulhi(unsigned int a, unsigned int b)
{ return (unsigned int)(((unsigned long long)a * b) >> 32); }
inline unsigned int __funnelshift_l(unsigned int lo, unsigned int hi, unsigned int s)
{ return (unsigned int)((((unsigned long long)hi << 32 | lo) << (s & 31)) >> 32); }
inline unsigned int __funnelshift_r(unsigned int lo, unsigned int hi, unsigned int s)
{ return (unsigned int)(((unsigned long long)hi << 32 | lo) >> (s & 31)); }
inline unsigned int __byte_perm(unsigned int x, unsigned int y, unsigned int s)
{
    const unsigned long long v = (unsigned long long)y << 32 | x;
    unsigned int r = 0;
    for (int i = 0; i < 4; ++i) r |= (unsigned int)((v >> (8 * ((s >> (4 * i)) & 7))) & 0xFF) << (8 * i);
    return r;
}
inline int __ffs(unsigned int x) { return __builtin_ffs((int)x); }
inline int __ffsll(unsigned long long x) { return __builtin_ffsll((long long)x); }
template <class T> inline T __ldg(const T* p) { return *p; }
using std::min;
using std::max;

// One block at a time. Kernels with __syncthreads run the block's threads concurrently, so that
// the barrier is real; the others run them one after another (no thread start-up cost).
static void emu_launch(unsigned int gx, unsigned int gy, unsigned int bx, std::size_t shared, bool synced,
                       const std::function<void()>& kernel)
{
    std::vector<unsigned char> memory(shared + 16);
    gridDim = dim3{gx, gy, 1};
    blockDim = dim3{bx, 1, 1};
    for (unsigned int by = 0; by < gy; ++by) {
        for (unsigned int b = 0; b < gx; ++b) {
            emu_dynamic_shared = memory.data();
            if (!synced) {
                for (unsigned int t = 0; t < bx; ++t) {
                    threadIdx = dim3{t, 0, 0};
                    blockIdx = dim3{b, by, 0};
                    emu_barrier = nullptr;
                    kernel();
                }
                continue;
            }
            std::barrier<> barrier((std::ptrdiff_t)bx);
            std::vector<std::thread> threads;
            for (unsigned int t = 0; t < bx; ++t) {
                threads.emplace_back([&, t] {
                    threadIdx = dim3{t, 0, 0};
                    blockIdx = dim3{b, by, 0};
                    emu_barrier = &barrier;
                    kernel();
                    barrier.arrive_and_drop();  // an exited thread no longer holds the others back
                });
            }
            for (auto& thread : threads) thread.join();
        }
    }
}
"""

_SIGNATURE = re.compile(r'extern "C"\s+void\s+(\w+)\s*\(([^)]*)\)\s*\{')
_SYNCING = ("__syncthreads", "sweeps_shared<")  # in a kernel's body: it needs a real barrier


def _param_names(params):
    return [re.findall(r"\w+", p)[-1] for p in params.split(",")]


def build(tmp_path):
    """Compile the module for the CPU in ``tmp_path``; returns :class:`EmulatedRunner`."""
    compiler = shutil.which("g++")
    source = re.sub(r"extern __shared__ ([\w ]+?) (\w+)\[\];", r"\1* \2 = (\1*)emu_dynamic_shared;", cuda_source())
    flags = ["-std=c++20", "-O1", "-pthread", "-w", *compile_defines()]
    expanded = subprocess.run([compiler, *flags, "-E", "-P", "-x", "c++", "-"], input=SHIM + source,
                              capture_output=True, text=True, check=True).stdout
    wrappers = []
    matches = list(_SIGNATURE.finditer(expanded))
    for match, following in zip(matches, matches[1:] + [None]):
        name, params = match.groups()
        body = expanded[match.end():following.start() if following else len(expanded)]
        synced = "true" if any(word in body for word in _SYNCING) else "false"
        args = ", ".join(_param_names(params))
        wrappers.append(f'extern "C" void emu_{name}(unsigned int gx, unsigned int gy, unsigned int bx, '
                        f'std::size_t shared, {params}) {{ emu_launch(gx, gy, bx, shared, {synced}, '
                        f'[&] {{ {name}({args}); }}); }}')
    path = tmp_path / "emulated.cpp"
    path.write_text(SHIM + source + "\n" + "\n".join(wrappers) + "\n")
    library = tmp_path / "emulated.so"
    subprocess.run([compiler, *flags, "-shared", "-fPIC", str(path), "-o", str(library)], check=True,
                   capture_output=True, text=True)
    return EmulatedRunner(ctypes.CDLL(str(library)))


class EmulatedRunner:
    """backend/cuda.py's runner interface on the CPU: NumPy arrays, kernels from :func:`build`."""

    xp = np

    def __init__(self, library):
        self.library = library

    def launch(self, name, grid, block, args, shared_mem=0):
        converted = []
        for a in args:
            if isinstance(a, np.ndarray) and a.dtype.names:  # a struct passed by value (as CuPy does)
                assert a.shape == (1,) and a.dtype.itemsize % 4 == 0
                words = a.view(np.uint32)
                struct = type("Struct", (ctypes.Structure,), {"_fields_": [("words", ctypes.c_uint32 * len(words))]})
                converted.append(struct((ctypes.c_uint32 * len(words))(*words.tolist())))
            elif isinstance(a, np.ndarray):
                assert a.flags.c_contiguous
                converted.append(ctypes.c_void_p(a.ctypes.data))
            elif isinstance(a, np.int32):
                converted.append(ctypes.c_int32(int(a)))
            elif isinstance(a, np.uint32):
                converted.append(ctypes.c_uint32(int(a)))
            else:
                raise TypeError(f"{name}: argument of type {type(a).__name__}")
        gy = grid[1] if len(grid) > 1 else 1
        getattr(self.library, f"emu_{name}")(ctypes.c_uint(grid[0]), ctypes.c_uint(gy), ctypes.c_uint(block),
                                             ctypes.c_size_t(shared_mem), *converted)
