"""``hpcrbm bench mc``: Monte Carlo throughput in spin-flip attempts per nanosecond.

One lattice (or a batch of replicas) at one temperature; the first sweeps compile and warm
up the kernel and are not timed. Under mpiexec every rank runs the same benchmark on its own
core and the table reports the sum over ranks.
"""
import time

import numpy as np

from .config import ModelConfig
from .montecarlo.models import make_model
from .montecarlo.updaters import make_updater


def device_copy_bytes_per_ns(xp, n_bytes=2**30, repeats=10):
    """The device's memory ceiling measured now: bytes read plus written per ns by a copy."""
    source = xp.ones(n_bytes, dtype=xp.int8)
    target = xp.empty_like(source)
    target[...] = source
    xp.cuda.Device().synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        target[...] = source
    xp.cuda.Device().synchronize()
    return 2 * n_bytes * repeats / (time.perf_counter() - t0) / 1e9


def bench_mc(comm, backend, L=1024, dim=2, temperature=2.269, replicas=1, sweeps=0, seed=1, kind="ising", q=2,
             algorithm="metropolis", path="auto"):
    """Returns a dict with ``flips_per_ns`` (all ranks together) and what was measured.

    For cluster algorithms "flips" counts N spins per sweep (one sweep flips about N spins).
    On a GPU the spins stay on the device (the kernels are timed, not copies), ``path`` picks
    the launch shape (kernels/gpu.py), and the result carries the device's copy bandwidth
    measured in the same run with the int8 ceiling it implies (3 bytes per flip).
    """
    model = make_model(ModelConfig(kind=kind, dim=dim, L=L, q=q))
    updater = make_updater(algorithm, model, backend)
    gpu = backend.name == "gpu" and algorithm == "metropolis"
    if sweeps <= 0:  # about 2e8 flip attempts per rank (2e10 on a GPU), at least 5 sweeps
        sweeps = max(5, int((2e10 if gpu else 2e8) // (model.n_sites * replicas)))
    spins = model.initial_state(seed, comm.rank, replicas, "random")
    params = updater.prepare(temperature, 0.0)
    tuning = np.zeros(updater.n_tuning, dtype=np.int64)
    extra = {}
    if gpu:
        from .backend.cuda import compile_defines
        from .montecarlo.kernels.gpu import choose_path, metropolis_gpu
        spins = backend.xp.asarray(spins)
        path = choose_path(model) if path == "auto" else path

        def run(start, n, thermalizing=False):
            metropolis_gpu(model, spins, params[None], seed, [comm.rank], start, n, path)

        copy = device_copy_bytes_per_ns(backend.xp)
        extra = {"path": path, "defines": " ".join(compile_defines()), "copy_bytes_per_ns": copy,
                 "int8_ceiling_flips_per_ns": copy / 3}
    else:
        def run(start, n, thermalizing=False):
            updater.sweep(spins, params, tuning, seed, comm.rank, start, n, thermalizing)
    warm = 1 if algorithm == "metropolis" else 20  # compile, warm up; then tune Wolff near equilibrium
    run(0, warm, thermalizing=True)
    run(warm, warm, thermalizing=True)
    if gpu:
        backend.xp.cuda.Device().synchronize()
    comm.barrier()
    t0 = time.perf_counter()
    run(2 * warm, sweeps)
    if gpu:
        backend.xp.cuda.Device().synchronize()
    seconds = time.perf_counter() - t0
    comm.barrier()
    flips = model.n_sites * replicas * sweeps
    total_rate = comm.allreduce_sum([flips / seconds / 1e9])[0]
    return {
        "benchmark": "mc", "model": kind, "q": q, "algorithm": algorithm, "dim": dim, "L": L, "replicas": replicas,
        "sweeps": sweeps,
        "temperature": temperature, "ranks": comm.size, "backend": backend.name, "device": backend.device,
        "seconds": seconds, "flips_per_ns": total_rate, "flips_per_ns_per_rank": total_rate / comm.size, **extra,
    }


def ising_training_data(L=10, temperatures=(1.5, 2.0, 2.27, 2.5, 3.0, 4.0), per_temperature=2000, seed=7):
    """Visible vectors v = (1 + s) / 2 of 2D Ising configurations, float32 (n, L * L)."""
    from .montecarlo.ising import IsingModel
    from .rbm.model import encode
    model = IsingModel(2, L)
    configs = []
    for point, T in enumerate(temperatures):
        spins = model.initial_state(seed, point, per_temperature)
        model.sweep(spins, model.thresholds(T, 0.0), seed, point, 0, 200)
        configs.append(spins)
    return encode(np.concatenate(configs), "bernoulli", 2, np.float32)


def device_matmul_flops(xp, n=8192, dtype="float32", repeats=10):
    """The device's dense matrix-product rate measured now (FLOP/s): n x n by n x n in ``dtype``."""
    a = xp.ones((n, n), dtype=dtype)
    b = xp.ones((n, n), dtype=dtype)
    c = a @ b
    xp.cuda.Device().synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        xp.matmul(a, b, out=c)
    xp.cuda.Device().synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - t0)


def bench_rbm(comm, backend, n_hidden=64, batch_size=100, epochs=3, dtype="float32", method="pcd", seed=1, L=10,
              biases=True, data=None):
    """PCD-1 (or CD-1: ``method``) throughput on 2D Ising L x L data (Nv = L**2, or ``data``
    given): ``samples_per_s`` (all ranks together); ``biases`` False trains W alone.

    On a GPU the training runs through the device kernels (rbm/training.py: training_kernels) and
    the result carries the rate of the update's products (12 batch Nv Nh FLOP per update of
    PCD-1, in float64: exact fixed point) beside the device's float32 and float64 matrix-product
    rates measured in the same run."""
    from .rbm.training import Trainer, TrainingSettings, training_kernels
    if data is None:
        data = ising_training_data(L, per_temperature=max(2000, -(-2 * batch_size // 6)))
    lo, hi = comm.slice(len(data))
    settings = TrainingSettings(n_hidden=n_hidden, method=method, batch_size=batch_size, dtype=dtype, seed=seed,
                                learning_rate=0.01, biases=biases)
    trainer = Trainer(settings, data[lo:hi], lo, len(data), comm, data.shape[1], training_kernels(backend))
    gpu = backend.name == "gpu" and hasattr(backend.xp, "cuda")
    sync = backend.xp.cuda.Device().synchronize if gpu else (lambda: None)
    state = trainer.initial_state()
    trainer.epoch(state)  # compile and warm up
    sync()
    comm.barrier()
    t0 = time.perf_counter()
    for _ in range(epochs):
        trainer.epoch(state)
    sync()
    seconds = time.perf_counter() - t0
    samples = epochs * trainer.batches * batch_size
    extra = {}
    if gpu:
        products = 12 * batch_size * data.shape[1] * n_hidden * epochs * trainer.batches / seconds
        f32, f64 = device_matmul_flops(backend.xp, dtype="float32"), device_matmul_flops(backend.xp, dtype="float64")
        extra = {"product_flops": products, "matmul_float32_flops": f32, "matmul_float64_flops": f64,
                 "fraction_of_float32_matmul": products / f32}
    return {"benchmark": "rbm", "method": method, "k": 1, "biases": biases, "n_visible": data.shape[1],
            "n_hidden": n_hidden, "batch_size": batch_size, "dtype": dtype, "samples": samples, "ranks": comm.size,
            "seconds": seconds, "samples_per_s": samples / seconds, "backend": backend.name, "device": backend.device,
            **extra}
