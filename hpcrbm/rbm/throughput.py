"""RBM training throughput in samples per second, measured on this machine (``hpcrbm bench
rbm``, and the train stage's time estimate)."""
import time

import numpy as np


def ising_training_data(L=10, temperatures=(1.5, 2.0, 2.27, 2.5, 3.0, 4.0), per_temperature=2000, seed=7):
    """Visible vectors v = (1 + s) / 2 of 2D Ising configurations, float32 (n, L * L)."""
    from ..montecarlo.ising import IsingModel
    from .model import encode
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
    PCD-1, in the training dtype: exact products on integer grids) beside the device's float32
    and float64 matrix-product rates measured in the same run."""
    from .training import Trainer, TrainingSettings, training_kernels
    if data is None:
        data = ising_training_data(L, per_temperature=max(2000, -(-2 * batch_size // 6)))
    lo, hi = comm.slice(len(data))
    settings = TrainingSettings(n_hidden=n_hidden, method=method, batch_size=batch_size, dtype=dtype, seed=seed,
                                learning_rate=0.01, biases=biases)
    trainer = Trainer(settings, data[lo:hi], lo, len(data), comm, data.shape[1], training_kernels(backend))
    gpu = backend.name == "gpu" and hasattr(backend.xp, "cuda")
    sync = backend.xp.cuda.Device().synchronize if gpu else (lambda: None)
    state = trainer.initial_state()
    with trainer.blas_threads():  # as the train stage does
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
