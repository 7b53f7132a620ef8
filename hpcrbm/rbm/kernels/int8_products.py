"""The float32 training update's C kernels for CPUs with AMX, for training_cpu.gradient_sums: the
exact products as AMX int8 products (kernels/int8_products_amx.c: the same sums as its BLAS
products, so the same bits), the Bernoulli layers in one vectorised pass
(kernels/bernoulli_layer.c: the portable sigmoid and the Philox draws, the bits of the numba
kernels) and, with Bernoulli visibles, the whole update in one call (kernels/bernoulli_update.c);
docs/rbm.md, "The C update on CPUs with AMX".

The C library is built once per source set, flags and CPU with the system's C compiler (``cc -O3
-march=native -ffp-contract=off -fopenmp``) into the kernel cache (hpcrbm.kernel_cache_dir) and
linked into numba's kernels by symbol name. A large update (from 2**22 multiply-adds), product
(2**24), the packing of a large W and a layer of 2**15 values or more are split among OpenMP's threads
(OMP_NUM_THREADS: cores / ranks under an MPI launcher, cli.set_blas_threads), each block of
outputs or row computed by one thread: the same bits on any number of threads.
:data:`AVAILABLE`: it is built, the CPU has AMX-TILE and AMX-INT8, and Linux lets this process use
the tiles. Where it cannot be built, the symbols point to stubs that are never called (the
update takes the numba and BLAS path).
"""
import ctypes
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import types

from ... import use_kernel_cache
from ...backend import native

use_kernel_cache()

SOURCES = [Path(__file__).with_name(name)
           for name in ("int8_products_amx.c", "bernoulli_layer.c", "bernoulli_update.c")]
# no fused multiply-adds: the sigmoid's float32 operations are those of its numba, NumPy and CuPy twins
FLAGS = ["-O3", "-march=native", "-ffp-contract=off"]

_i64, _ptr, _int, _float = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int, ctypes.c_float
_u64, _u32, _f64 = ctypes.c_uint64, ctypes.c_uint32, ctypes.c_double
_SIGNATURES = {  # symbol: (ctypes result, ctypes arguments)
    "hpcrbm_packed_weights_bytes": (_i64, (_i64, _i64, _int)),
    "hpcrbm_pack_weights": (None, (_ptr, _i64, _i64, _i64, _float, _int, _ptr)),
    "hpcrbm_binary_times_weights_t": (_int, (_ptr, _i64, _i64, _ptr, _i64, _i64, _int, _ptr, _i64)),
    "hpcrbm_binary_times_weights": (_int, (_ptr, _i64, _i64, _ptr, _i64, _i64, _int, _ptr, _i64)),
    "hpcrbm_gradient_sums": (_int, (_ptr, _i64, _ptr, _i64, _i64, _float, _int, _ptr, _i64, _i64, _ptr, _int)),
    "hpcrbm_bernoulli_layer": (_int, (_ptr, _i64, _i64, _float, _ptr, _ptr, _ptr, _u64, _u64, _u64, _u32, _u32, _ptr)),
    "hpcrbm_bernoulli_update": (_int, (_ptr, _i64, _ptr, _ptr, _ptr, _ptr, _ptr, _float, _int, _ptr, _i64, _i64, _int,
                                       _i64, _i64, _ptr, _ptr, _ptr, _int, _u64, _u64, _u64, _u32, _u32, _ptr, _ptr,
                                       _float, _int, _ptr, _int)),
    "hpcrbm_bernoulli_epoch": (_i64, (_ptr, _i64, _ptr, _i64, _i64, _int, _ptr, _ptr, _i64, _ptr, _ptr, _ptr, _ptr,
                                      _ptr, _ptr, _ptr, _i64, _i64, _int, _u64, _u64, _u64, _u32, _u32, _ptr, _ptr,
                                      _ptr, _float, _int, _ptr, _f64, _int, _ptr)),
}
_NUMBA_TYPES = {_i64: types.int64, _ptr: types.uintp, _int: types.int32, _float: types.float32, _f64: types.float64,
                _u64: types.uint64, _u32: types.uint32, None: types.void}


def _library():
    """Path of the built library (with OpenMP where the compiler has it), or None."""
    return native.built_library("int8_products_amx", SOURCES, FLAGS, (["-fopenmp"], []))


def _load():
    path = _library()
    if path is not None:
        return bool(native.load(path).hpcrbm_amx_ready()), []
    stubs = []  # kept alive: numba's code holds their addresses
    for name, (result, arguments) in _SIGNATURES.items():
        stub = ctypes.CFUNCTYPE(result, *arguments)(lambda *args: 0)
        llvm.add_symbol(name, ctypes.cast(stub, ctypes.c_void_p).value)
        stubs.append(stub)
    return False, stubs


AVAILABLE, _stubs = _load()


def _external(name):
    result, arguments = _SIGNATURES[name]
    return types.ExternalFunction(name, _NUMBA_TYPES[result](*(_NUMBA_TYPES[a] for a in arguments)))


_packed_weights_bytes = _external("hpcrbm_packed_weights_bytes")
_pack_weights = _external("hpcrbm_pack_weights")
_binary_times_weights_t = _external("hpcrbm_binary_times_weights_t")
_binary_times_weights = _external("hpcrbm_binary_times_weights")
_gradient_sums = _external("hpcrbm_gradient_sums")
_bernoulli_layer = _external("hpcrbm_bernoulli_layer")
_bernoulli_update = _external("hpcrbm_bernoulli_update")
_bernoulli_epoch = _external("hpcrbm_bernoulli_epoch")


@numba.njit(cache=True, nogil=True)
def _keep_alive(array):
    """A use of ``array`` after a C call that took its address: numba frees an array after its last
    use, and ``array.ctypes.data`` (an integer) is not one that lasts through the call."""
    return array.size


CACHE_LINE = 64  # bytes


@numba.njit(cache=True, nogil=True)
def aligned_empty(n, dtype):
    """An uninitialised (n,) array of ``dtype`` that starts a cache line: the C kernels' operands
    (AMX tile rows, AVX-512 loads and stores) then never straddle two lines (NumPy and numba align to
    16 bytes; at the critique's shape the straddling costs 15% of an update)."""
    raw = np.empty(n + CACHE_LINE, dtype)
    skip = (CACHE_LINE - raw.ctypes.data % CACHE_LINE) % CACHE_LINE // raw.itemsize
    return raw[skip:skip + n]


@numba.njit(cache=True, nogil=True)
def digits_needed(largest):
    """The fewest balanced base-256 digits that hold every integer of magnitude <= ``largest``."""
    n, bound = 1, 127.0
    while largest > bound:
        n += 1
        bound = bound * 256.0 + 127.0
    return n


MOST_DIGITS = 4  # of a float32 weight's product copy: |rint(W 2**s)| <= 2**24 (digits_needed)


@numba.njit(cache=True, nogil=True)
def packed_bytes(nh, units, digits=MOST_DIGITS):
    """Bytes of W (Nh, units)'s packed product copy with ``digits`` digits."""
    return _packed_weights_bytes(nh, units, np.int32(digits))


@numba.njit(cache=True, nogil=True)
def pack_weights(W, scale, digits):
    """The product copy rint(W scale) of W (Nh, units) float32 (``scale`` = 2**s) as the operand of
    :func:`weight_products` (int8, the C library's layout)."""
    nh, units = W.shape
    packed = aligned_empty(packed_bytes(nh, units, digits), np.int8)
    _pack_weights(W.ctypes.data, nh, units, W.strides[0] // 4, np.float32(scale), np.int32(digits), packed.ctypes.data)
    return packed


@numba.njit(cache=True, nogil=True)
def weight_products(x, packed, nh, units, digits, hidden):
    """x Wq.T (rows, Nh) with ``hidden`` (x (rows, units)), else x Wq (rows, units) (x (rows,
    Nh)), for x float32 of 0/1 values (C-contiguous rows) and ``packed`` from :func:`pack_weights`.
    (Typed for float64 too, so that float64 kernels compile; only float32 is ever passed.)"""
    rows, n = len(x), nh if hidden else units
    out = np.empty((rows, n), x.dtype)
    arguments = (x.ctypes.data, rows, x.strides[0] // 4, packed.ctypes.data, nh, units, np.int32(digits),
                 out.ctypes.data, n)
    status = _binary_times_weights_t(*arguments) if hidden else _binary_times_weights(*arguments)
    if status != 0:
        raise MemoryError("no memory for the AMX products' packed operands")
    return out


@numba.njit(cache=True, nogil=True)
def gradient_sums(ph0, phk, step, rows, grad):
    """grad = [W (Nh, units), b (units,), c (Nh,)] (float32 or float64) = the exact gradient sums of the
    signed probabilities S = [rint(ph0 step); -rint(phk step)] (ph0 (n0, Nh), phk (m, Nh) float32,
    C-contiguous; ``step`` = 2**t) and the visible rows (n0 + m, units) of 0/1 values: W = S.T rows,
    b = the first n0 rows' column sums minus the others', c = S's column sums (one AMX product)."""
    nh, units = ph0.shape[1], rows.shape[1]
    if _gradient_sums(ph0.ctypes.data, len(ph0), phk.ctypes.data, len(phk), nh, np.float32(step),
                      np.int32(digits_needed(step)), rows.ctypes.data, units, rows.strides[0] // 4,
                      grad.ctypes.data, np.int32(grad.itemsize == 4)) != 0:
        raise MemoryError("no memory for the AMX products' packed operands")


@numba.njit(cache=True, nogil=True)
def bernoulli_layer(sums, scale, bias, probs, sample, ids, step, first_block, c3, k0, k1, states):
    """probs = sigmoid(sums scale + bias) (the portable float32 sigmoid) and, with ``sample``,
    states = 1 where the Philox uniform of (ids[row], step, word first_block * 4 + column) is below
    probs, else 0: training_cpu's _probabilities and sample_bernoulli_rows in one vectorised pass
    (kernels/bernoulli_layer.c), the same bits. sums, probs, states (rows, n) float32 C-contiguous
    (probs may be sums); bias (n,) float32."""
    rows, n = sums.shape
    chains = ids.astype(np.int64)
    _bernoulli_layer(sums.ctypes.data, rows, n, np.float32(scale), bias.ctypes.data, probs.ctypes.data,
                     chains.ctypes.data, np.uint64(step), np.uint64(first_block), np.uint64(c3), np.uint32(k0),
                     np.uint32(k1), states.ctypes.data if sample else 0)
    _keep_alive(chains)


@numba.njit(cache=True, nogil=True)
def bernoulli_update(data, local_rows, rows, starts, negative, W, scale, digits, packed, persistent, b, c, ids,
                     gibbs_steps, step, stride, c3, k0, k1, probability_step, ph0, phk, grad):
    """The whole CD-k / PCD-k update of training_cpu.gradient_sums for Bernoulli visible units, in one
    C call (kernels/bernoulli_update.c), the same bits. data (n_local, units) with unit-stride rows,
    local_rows (n0,): the batch's rows of it, gathered into rows (n0, units); starts (m, units):
    PCD's chain starts (CD: unused); negative (m, units): receives v_k (may be starts); W (Nh,
    units) C-contiguous, packed with ``digits`` digits at ``scale`` = 2**s into ``packed`` (int8
    scratch of at least :func:`packed_bytes`, its first cache line aligned); ids (m,) the chains'
    ids; writes ph0 (n0, Nh), phk (m, Nh) and grad ([W, b, c], float32 or float64, the
    probabilities on the grid ``probability_step`` = 2**t). Every other array float32, C-contiguous."""
    nh, units = W.shape
    rows_at = local_rows.astype(np.int64)
    chains = ids.astype(np.int64)
    single = np.int32(grad.itemsize == 4)
    step_digits = np.int32(digits_needed(probability_step))
    status = _bernoulli_update(data.ctypes.data, data.strides[0] // 4, rows_at.ctypes.data, rows.ctypes.data,
                               starts.ctypes.data, negative.ctypes.data, W.ctypes.data, np.float32(scale),
                               np.int32(digits), packed.ctypes.data, len(rows_at), len(chains), np.int32(persistent),
                               nh, units, b.ctypes.data, c.ctypes.data, chains.ctypes.data, np.int32(gibbs_steps),
                               np.uint64(step), np.uint64(stride), np.uint64(c3), np.uint32(k0), np.uint32(k1),
                               ph0.ctypes.data, phk.ctypes.data, np.float32(probability_step), step_digits,
                               grad.ctypes.data, single)
    _keep_alive(rows_at)
    _keep_alive(chains)
    if status != 0:
        raise MemoryError("no memory for the AMX products' packed operands")


@numba.njit(cache=True, nogil=True)
def bernoulli_epoch(data, order, batches, batch_size, persistent, chain_ids, chains, rows, negative, W, b, c,
                    velocities, settings, gibbs_steps, first_update, stride, c3, k0, k1, ph0, phk, packed,
                    probability_step, grad, largest, floor):
    """One rank's epoch of :func:`bernoulli_update` calls with their SGD steps, in one C call and one
    team (kernels/bernoulli_update.c: hpcrbm_bernoulli_epoch), the bits of training_cpu.epoch_updates:
    update i (step first_update + i) of the rows order[i batch_size:(i + 1) batch_size] of data;
    PCD: ``chains`` (m, units) stepped in place, their ids ``chain_ids``; CD: v_k into ``negative``;
    each update's weight grid from the largest |W| (``largest`` before the first, then each step's),
    the epoch stopped before an update whose grid is below ``floor``; velocities (vW, vb, vc) and
    ``settings`` [learning_rate / batch_size / 2**t, learning_rate / batch_size, momentum,
    learning_rate weight_decay, biases]: training_cpu.sgd_step's. rows, ph0 (batch_size, Nh),
    phk (m, Nh), packed (:func:`packed_bytes`): scratch; grad float32. Returns (updates made, the
    coarsest weight grid of theirs: 32 if none)."""
    nh, units = W.shape
    batch_order = order.astype(np.int64)
    ids = chain_ids.astype(np.int64)
    pointers = np.zeros(3, np.uintp)
    pointers[0] = velocities[0].ctypes.data
    pointers[1] = velocities[1].ctypes.data
    pointers[2] = velocities[2].ctypes.data
    grid = np.zeros(1, np.int32)
    step_digits = np.int32(digits_needed(probability_step))
    made = _bernoulli_epoch(data.ctypes.data, data.strides[0] // 4, batch_order.ctypes.data, batches, batch_size,
                            np.int32(persistent), ids.ctypes.data, chains.ctypes.data, len(ids), rows.ctypes.data,
                            negative.ctypes.data, W.ctypes.data, b.ctypes.data, c.ctypes.data, pointers.ctypes.data,
                            settings.ctypes.data, nh, units, np.int32(gibbs_steps), np.uint64(first_update),
                            np.uint64(stride), np.uint64(c3), np.uint32(k0), np.uint32(k1), ph0.ctypes.data,
                            phk.ctypes.data, packed.ctypes.data, np.float32(probability_step), step_digits,
                            grad.ctypes.data, np.float64(largest), np.int32(floor), grid.ctypes.data)
    _keep_alive(batch_order)
    _keep_alive(ids)
    _keep_alive(pointers)
    _keep_alive(grid)
    _keep_alive(velocities[0])
    _keep_alive(velocities[1])
    _keep_alive(velocities[2])
    _keep_alive(settings)
    if made < 0:
        raise MemoryError("no memory for the AMX products' packed operands")
    return made, grid[0]
