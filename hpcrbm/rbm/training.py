"""Data-parallel RBM training (CD-k and persistent CD) over MPI ranks.

Every rank holds the visible vectors of its own grid slice: global sample index
``i = point * samples + j``, rows ``[first, first + n_local)`` on this rank. The global
minibatch sequence does not depend on the rank count: epoch e visits the samples in the order
of argsort(word i of the RBM_ORDER stream, step e) and cuts it into batches of ``batch_size``
(the last, incomplete batch is dropped). Each rank computes the gradient sums of the batch
rows it owns; one allreduce (sum) per update combines them, and every rank applies the same
update. The sums are exact (kernels/training_cpu.py: gradient_sums), so 1, 2 or 3 ranks give
the same weights bit for bit.

The arrays live where the kernels run (:func:`training_kernels`): NumPy with the numba kernels of
kernels/training_cpu.py on the CPU, CuPy with kernels/training_array.py on a GPU (the same exact
products, the same random streams made on the device, the sigmoid and softmax from basic IEEE
operations: a training gives the same bits on both). Only the gradient allreduce (through host
buffers) and monitors' scalars leave the device.

Random numbers (point = Nh + 2**16 * training seed, :attr:`TrainingSettings.point`; docs/rng.md):
  RBM_ORDER: epoch permutations (replica 0, step = epoch, index = sample);
  RBM_INIT: initial weights (step 0) and persistent chains (step 1) (replica = row);
  RBM_GIBBS: Gibbs sampling (replica = chain id, step = update, index = half-step * stride + unit).
CD-k chains are keyed by their data sample's global index, PCD chains by their chain index.
"""
import contextlib
from dataclasses import dataclass, field

import numpy as np

from ..backend import to_host, to_module
from ..errors import InputError
from ..parallel.communicator import block_range
from ..rng.philox import seed_key
from ..rng.streams import Purpose, rbm_point
from ..rng.uniform import normals, stream_order, stride, uniforms
from .kernels import int8_products, training_cpu
from .kernels.training_array import FIXED_POINT, ArrayKernels, fixed_point
from .model import (
    RBMParams,
    apply_gauge,
    free_energy,
    hidden_probs,
    sample_categorical,
    softplus,
    visible_probs,
)

MONITOR_SAMPLES = 1000
# batch x units x Nh below which one BLAS thread makes the update's products faster than several (at 100 x
# 100 x 100, 158 instead of 205 us per update on two cores: docs/benchmarks.md); above, the thread count is
# the process's (all cores on one rank, cores / ranks under an MPI launcher: cli.set_blas_threads)
SMALL_PRODUCTS = 2**20
# this rank's rows of a batch x units x Nh from which a float32 training on a CPU with AMX computes its update with
# the C kernels (kernels/int8_products.py: AMX int8 products, the vectorised layers; the same bits); below, their
# fixed cost per call outweighs what they save (one rank's update, 2026-12-07: 50 x 100 x 64 rows 57 instead of 78
# us, 25 x 100 x 64 35 instead of 41, 50 x 64 x 16 26 either way)
INT8_PRODUCTS_FROM = 2**17


class ExactGridError(InputError):
    """The weights grew too large for exact products in the training dtype: one line naming
    rbm.dtype, exit 2 (the config asks for more than float32's exact products can hold)."""


def training_kernels(backend=None):
    """The kernels of an update for ``backend`` (backend/__init__.py): training_cpu (numba, NumPy
    arrays) on the CPU, :class:`ArrayKernels` on the device of a backend with a CUDA runner (a
    GPU: CuPy arrays; the CUDA emulator in the tests: NumPy arrays)."""
    if backend is None or backend.runner is None:
        return training_cpu
    return ArrayKernels(backend.runner)


class ExactProducts:
    """Free energies of binary states, exact and so independent of how rows are split over ranks
    and of how a matrix product is blocked: with W rounded to a multiple of 2**-32 (``Wq``, within
    2**-33 of the stored float W), ``v @ Wq.T`` is a sum of integers below 2**53, exact in any
    order, so BLAS (dgemm, float64, on the CPU or the GPU) gives the same bits whatever its
    blocking. (The training update's products: kernels/training_cpu.py, gradient_sums.)
    """

    def __init__(self, params, dtype, kernels=training_cpu):
        self.params, self.dtype, self.k, self.xp = params, dtype, kernels, kernels.xp
        self.Wq, largest = kernels.quantised_weights(self.xp.ascontiguousarray(params.flat_W()))
        if largest >= 2.0**53:
            raise FloatingPointError("RBM weights too large for exact products (a row or column of |W| sums "
                                     "to 2**21 or more)")

    def _inputs(self, states, weights, bias, dtype):
        """states @ weights 2**-32 + bias as ``dtype``; states binary (rows, n_in)."""
        out = self.xp.empty((len(states), weights.shape[1]), dtype)
        self.k.scaled_inputs(self.xp.asarray(states, np.float64) @ weights, bias, out)
        return out

    def free_energy(self, v):
        """F(v) (float64, (rows,)) of binary states, each row computed exactly the same way
        whatever the other rows (see free_energy in model.py)."""
        xp = self.xp
        x = self._inputs(v, self.Wq.T, self.params.c, np.float64)
        v = xp.asarray(v, np.float64)
        return -(v @ fixed_point(self.params.flat_b())) / FIXED_POINT - softplus(xp, x).sum(axis=1)


@dataclass(frozen=True)
class TrainingSettings:
    n_hidden: int
    q: int = 0  # 0: Bernoulli visibles; else categories per site
    method: str = "pcd"
    k: int = 1
    learning_rate: float = 0.01
    batch_size: int = 100
    momentum: float = 0.0
    weight_decay: float = 0.0
    dtype: str = "float32"
    seed: int = 0
    biases: bool = True  # False: b = c = 0 throughout (Bernoulli visibles only)
    init_std: float = 0.01  # W starts as N(0, init_std**2)
    training_seed: int = 0  # independent trainings of the same RBM (rbm.seeds) use 0, 1, ...

    @property
    def point(self):
        """The work item of this RBM's random streams (rng.streams.rbm_point)."""
        return rbm_point(self.n_hidden, self.training_seed)


@dataclass
class TrainingState:
    params: RBMParams
    velocity: list  # momentum buffers for W, b, c
    chains: np.ndarray  # PCD chains (batch_size, units), identical on every rank between epochs
    epoch: int = 0
    history: dict = field(default_factory=lambda: {"epoch": [], "reconstruction_error": [],
                                                   "pseudo_likelihood": [], "log_likelihood": []})
    snapshots: dict = field(default_factory=dict)  # epoch -> (W, b, c) copies kept during training
    weight_grid: int = training_cpu.GRID_CAP  # the coarsest grid 2**-s of W's product copy so far

    def to(self, xp):
        """This state with its parameters, velocities and chains as arrays of ``xp`` (numpy:
        host copies of device arrays)."""
        p = self.params
        self.params = RBMParams(*(to_module(a, xp) for a in (p.W, p.b, p.c)), p.q)
        self.velocity = [to_module(a, xp) for a in self.velocity]
        self.chains = to_module(self.chains, xp)
        return self


class Trainer:
    """Trains one RBM on the distributed data set; ``comm`` is the run's Communicator,
    ``kernels`` those of :func:`training_kernels` (the data are copied to their device once)."""

    def __init__(self, settings, data, first, n_total, comm, n_visible, kernels=training_cpu):
        self.s = settings
        self.k, self.xp = kernels, kernels.xp
        self.dtype = np.dtype(settings.dtype)
        self.data = self.xp.asarray(np.asarray(data, dtype=self.dtype))
        self.first, self.n_total, self.comm = first, n_total, comm
        self.n_visible = n_visible
        self.units = n_visible * max(settings.q, 1)
        self.sites = n_visible if settings.q else self.units
        self.stride = stride(self.units, settings.n_hidden)
        self.batches = n_total // settings.batch_size
        self._monitor = None  # (global indices, rows) of the monitor subset, once assembled
        # the grid 2**-t of the probabilities in the gradient sums (the same in every update)
        self.probability_grid = int(training_cpu.grid_exponent(1.0, 2 * settings.batch_size,
                                                               training_cpu.mantissa_bits(self.dtype)))
        self._probability_scale = 2.0**self.probability_grid
        self._all_local = first == 0 and len(data) == n_total  # one rank: the batch needs no filtering
        lo, hi = block_range(settings.batch_size, comm.size, comm.rank)
        self._chain_rows = slice(lo, hi)  # this rank's PCD chains, and their ids
        self._chain_ids = np.arange(lo, hi, dtype=np.int64)
        # an update's gradient sums ([W, b, c]: integers below 2**24 in float32 training, so float32 on the
        # CPU, half the bytes to sum over ranks; else float64) and negative-phase states (at most a batch
        # of rows): made once, in the kernels' module, written in full by every update
        on_cpu = kernels is training_cpu
        grad_dtype = self.dtype if on_cpu else np.float64
        self._grad = self.xp.empty(settings.n_hidden * (self.units + 1) + self.units, dtype=grad_dtype)
        # ranks on one node sum the gradient through shared memory (exact sums: the allreduce's bits)
        self._node_sum = comm.node_sum(len(self._grad), grad_dtype) if on_cpu else None
        self._negative = self.xp.empty((settings.batch_size, self.units), self.dtype)
        self._no_rows = self.data[:0]  # a CD update's chain starts: none (they are the batch's rows)
        products = settings.batch_size // comm.size * self.units * settings.n_hidden
        self.int8_products = (kernels is training_cpu and self.dtype == np.float32 and int8_products.AVAILABLE
                              and products >= INT8_PRODUCTS_FROM)
        self._key = seed_key(settings.seed)
        self._c3 = settings.point * 256 + int(Purpose.RBM_GIBBS)
        # an epoch's updates in one compiled call (training_cpu.epoch_updates: the bits of update() batch by
        # batch) on the CPU with Bernoulli visibles, on one rank or on ranks that sum through shared memory;
        # else update by update (the allreduce, a device's kernels, the categorical gauge in NumPy)
        self._compiled_epoch = on_cpu and not settings.q and (comm.size == 1 or self._node_sum is not None)

    # -- random streams ---------------------------------------------------------------
    def permutation(self, epoch):
        return stream_order(self.n_total, self.s.seed, self.s.point, 0, epoch, Purpose.RBM_ORDER)

    # -- state --------------------------------------------------------------------------
    def initial_state(self):
        """W ~ N(0, init_std**2) (Box-Muller, RBM_INIT step 0), b from the data's unit means (0 without
        biases), c = 0."""
        nh, q = self.s.n_hidden, self.s.q
        u = uniforms((nh, 2 * self.units), np.float64, self.s.seed, np.arange(nh), 0, self.s.point, Purpose.RBM_INIT)
        normal = normals(u)
        means = self.comm.allreduce_sum(to_host(self.data.sum(axis=0, dtype=np.float64))) / self.n_total
        means = np.clip(means, 1e-3, 1 - 1e-3)
        b = np.log(means) if q else np.log(means / (1 - means))
        if not self.s.biases:
            b = np.zeros_like(b)
        shape_W = (nh, self.n_visible, q) if q else (nh, self.n_visible)
        params = RBMParams((self.s.init_std * normal).reshape(shape_W).astype(self.dtype),
                           b.reshape(shape_W[1:]).astype(self.dtype), np.zeros(nh, self.dtype), q)
        apply_gauge(np, params)
        chains = self._random_visible(np.arange(self.s.batch_size))
        return TrainingState(params, [np.zeros_like(params.W), np.zeros_like(params.b), np.zeros_like(params.c)],
                             chains).to(self.xp)

    def _random_visible(self, ids):
        """Uniformly random visible states for chains ``ids`` (g = 1 stream, step 1)."""
        u = uniforms((len(ids), self.sites), self.dtype, self.s.seed, ids, 1, self.s.point, Purpose.RBM_INIT)
        if self.s.q:
            flat = np.full((len(ids), self.units), 1.0 / self.s.q, self.dtype)
            return sample_categorical(np, flat, u, self.s.q)
        return (u < 0.5).astype(self.dtype)

    # -- one update ---------------------------------------------------------------------
    def parameter_views(self, state):
        """(W as (Nh, units), b flat, and the flat views of W, b, c and their velocities that the SGD
        step updates in place): made once per epoch (each update's reshapes cost microseconds)."""
        p = state.params
        arrays = (p.W, p.b, p.c, *state.velocity)
        if not all(a.flags.c_contiguous for a in arrays):  # reshape would copy and the step be lost
            raise ValueError("RBM parameters and velocities must be C-contiguous arrays")
        return p.flat_W(), p.flat_b(), tuple(a.reshape(-1) for a in arrays)

    def update(self, state, batch, update, views=None):
        """One SGD step on the global batch (global sample indices); all ranks call it. ``views``:
        :meth:`parameter_views` of ``state`` (made here when not given)."""
        s, k = self.s, self.k
        W, b, flat = views or self.parameter_views(state)
        mine = batch if self._all_local else batch[(batch >= self.first) & (batch < self.first + len(self.data))]
        persistent = s.method == "pcd"
        if persistent:
            starts, ids = state.chains[self._chain_rows], self._chain_ids
        else:
            starts, ids = self._no_rows, mine
        grad = self._node_sum.part if self._node_sum else self._grad
        negative = self._negative[:len(ids) if persistent else 0]  # a CD update's v_k is not kept
        weight_grid, _ = k.gradient_sums(
            self.data, mine - self.first if self.first else mine, starts, persistent, ids, s.k, W, b, flat[2], s.q,
            update, self.stride, self._c3, *self._key, 2 * s.batch_size, grad, negative, self.int8_products)
        if weight_grid < training_cpu.WEIGHT_GRID_FLOOR:
            raise self._outgrown(state, update)
        state.weight_grid = min(state.weight_grid, int(weight_grid))
        if self._node_sum:
            grad = self._node_sum.total()
        elif self.comm.size > 1:
            grad = self.comm.allreduce_sum(grad)
        if persistent:
            state.chains[self._chain_rows] = negative  # every rank's are gathered at the end of the epoch
        k.sgd_step(grad, *flat, s.batch_size, s.learning_rate, s.momentum, s.weight_decay, s.biases,
                   self._probability_scale)
        if s.q:
            apply_gauge(self.xp, state.params)

    def _outgrown(self, state, update):
        """The error of an update whose weights outgrew exact products (its SGD step not made)."""
        p = state.params
        return ExactGridError(
            f"config key rbm.dtype: the RBM's weights outgrew exact {self.dtype.name} products at update {update} "
            f"(max |W| = {float(abs(p.W).max()):.4g} over {max(p.W.shape[0], self.units)} units needs a grid "
            f"coarser than 2**-{training_cpu.WEIGHT_GRID_FLOOR}); train with rbm.dtype = 'float64'")

    def _epoch_updates(self, state, order, views):
        """The epoch's updates in one call of training_cpu.epoch_updates (the bits of :meth:`update`)."""
        s, summed = self.s, self._node_sum
        W, b, flat = views
        if summed:
            bases, rank, slots, calls, total = summed.bases, summed.rank, summed.slots, summed.calls, summed.out
        else:
            bases, rank, slots, calls, total = np.empty(0, np.int64), 0, self._grad[None], 0, self._grad
        first_update = state.epoch * self.batches
        made, grid = training_cpu.epoch_updates(
            self.data, self.first, order, self.batches, s.batch_size, s.method == "pcd", state.chains[self._chain_rows],
            self._chain_ids, s.k, W, b, *flat, first_update, self.stride, self._c3, *self._key, slots, self._negative,
            self.int8_products, bases, rank, calls, total, s.learning_rate, s.momentum, s.weight_decay, s.biases,
            self._probability_scale)
        if summed:
            summed.advance(made)
        state.weight_grid = min(state.weight_grid, int(grid))
        if made < self.batches:
            raise self._outgrown(state, first_update + made)

    def blas_threads(self):
        """A context of one BLAS thread where the update's products are small (batch x units x Nh
        below SMALL_PRODUCTS, on the CPU), where waking more threads costs more than it saves; else
        the thread count as it is. The same sums either way (the products are exact); entered
        around a whole training, not an epoch (setting a thread count back costs milliseconds)."""
        if self.xp is not np or self.s.batch_size * self.units * self.s.n_hidden >= SMALL_PRODUCTS:
            return contextlib.nullcontext()
        import scipy.linalg.cython_blas  # noqa: F401  numba's BLAS, loaded so that the limit reaches it
        from threadpoolctl import threadpool_limits
        return threadpool_limits(1, user_api="blas")

    def epoch(self, state):
        """One pass over the data set; increments ``state.epoch``."""
        order = self.permutation(state.epoch)
        bs = self.s.batch_size
        views = self.parameter_views(state)
        if self._compiled_epoch:
            self._epoch_updates(state, order, views)
        else:
            for bi in range(self.batches):
                self.update(state, order[bi * bs:(bi + 1) * bs], state.epoch * self.batches + bi, views)
        if self.s.method == "pcd" and self.comm.size > 1:
            state.chains = self.comm.allgather_slices(state.chains[self._chain_rows], bs)
        state.epoch += 1

    # -- monitoring -----------------------------------------------------------------------
    def monitor_data(self):
        """A fixed, strided global subset of at most MONITOR_SAMPLES samples (global indices, and
        the rows, float64), assembled on every rank once (allreduce of zero-filled rows: exact),
        so the monitors are computed identically on every rank."""
        if self._monitor is None:
            n = min(MONITOR_SAMPLES, self.n_total)
            chosen = np.arange(n) * self.n_total // n
            rows = np.zeros((n, self.units))
            mine = (chosen >= self.first) & (chosen < self.first + len(self.data))
            rows[mine] = to_host(self.data[self.xp.asarray(chosen[mine] - self.first)])
            self._monitor = chosen, self.xp.asarray(self.comm.allreduce_sum(rows))
        return self._monitor

    def reconstruction_and_pseudo_likelihood(self, params, epoch):
        """Mean squared mean-field reconstruction error per unit and mean pseudo-log-likelihood
        (N_sites log p(site | rest) for one site per sample, site = (index + epoch) mod N_sites),
        on the monitor subset (the same computation on every rank: no reduction)."""
        rows, v = self.monitor_data()
        xp, n = self.xp, len(rows)
        p64 = params.astype(np.float64)
        rec = visible_probs(xp, p64, hidden_probs(xp, p64, v))
        err = float(((v - rec) ** 2).sum()) / self.units
        site = xp.asarray((rows + epoch) % self.n_visible)
        at = xp.arange(n)
        f0 = free_energy(xp, p64, v)
        if not self.s.q:
            flipped = v.copy()
            flipped[at, site] = 1 - flipped[at, site]
            log_p = -xp.logaddexp(0, -(free_energy(xp, p64, flipped) - f0))
        else:
            q = self.s.q
            alternatives = []
            for a in range(q):
                va = v.reshape(n, self.n_visible, q).copy()
                va[at, site] = xp.eye(q)[a]
                alternatives.append(-free_energy(xp, p64, va.reshape(n, -1)))
            alternatives = xp.stack(alternatives, axis=1)
            top = xp.maximum(alternatives.max(axis=1), 0.0)
            log_p = -f0 - (top + xp.log(xp.exp(alternatives - top[:, None]).sum(axis=1)))
        return err / n, float(log_p.sum()) * self.n_visible / n

    def mean_free_energy(self, params):
        """-<F(v)> over the whole global data set (float64): per-row F from exact products,
        summed exactly at a resolution of 2**-32 per row (:func:`exact_total`)."""
        exact = ExactProducts(params, np.float64, self.k)
        parts = np.zeros(2)
        for start in range(0, len(self.data), 4096):
            parts += split_fixed_point(to_host(-exact.free_energy(self.data[start:start + 4096])))
        return exact_total(parts, self.comm) / self.n_total


_SPLIT = 2.0**26


def split_fixed_point(values):
    """(sum of high parts, sum of low parts) of ``values`` (|value| < 2**21) rounded to multiples
    of 2**-32: q = rint(value 2**32) = high 2**26 + low with 0 <= low < 2**26; both sums are sums of
    integers small enough to be exact in float64 in any order (up to 2**26 values)."""
    q = fixed_point(values)
    high = np.floor(q / _SPLIT)
    return np.array([high.sum(), (q - high * _SPLIT).sum()])


def exact_total(parts, comm):
    """The total over ranks of :func:`split_fixed_point` parts, as a float (exact before the
    final rounding, so the same on any number of ranks)."""
    high, low = comm.allreduce_sum(np.asarray(parts, np.float64))
    return (int(high) * int(_SPLIT) + int(low)) / FIXED_POINT
