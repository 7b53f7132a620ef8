"""``hpcrbm bench mc``: Monte Carlo throughput in spin-flip attempts per nanosecond.

One lattice (or a batch of replicas) at one temperature; the first sweeps compile and warm
up the kernel and are not timed. Under mpiexec every rank runs the same benchmark on its own
core and the table reports the sum over ranks.
"""
import time

import numpy as np

from .config import ModelConfig
from .montecarlo.models import make_model, make_updater


def bench_mc(comm, backend, L=1024, dim=2, temperature=2.269, replicas=1, sweeps=0, seed=1, kind="ising", q=2,
             algorithm="metropolis"):
    """Returns a dict with ``flips_per_ns`` (all ranks together) and what was measured.

    For cluster algorithms "flips" counts N spins per sweep (one sweep flips about N spins).
    """
    model = make_model(ModelConfig(kind=kind, dim=dim, L=L, q=q))
    updater = make_updater(algorithm, model, backend)
    if sweeps <= 0:  # about 2e8 flip attempts per rank, at least 5 sweeps
        sweeps = max(5, int(2e8 // (model.n_sites * replicas)))
    spins = model.initial_state(seed, comm.rank, replicas, "random")
    gpu = backend.name == "gpu" and algorithm == "metropolis"
    if gpu:  # keep the spins on the device: time the kernels, not the copies
        spins = backend.xp.asarray(spins)
    params = updater.prepare(temperature, 0.0)
    tuning = np.zeros(updater.n_tuning, dtype=np.int64)
    warm = 1 if algorithm == "metropolis" else 20  # compile, warm up; then tune Wolff near equilibrium
    updater.sweep(spins, params, tuning, seed, comm.rank, 0, warm, thermalizing=True)
    updater.sweep(spins, params, tuning, seed, comm.rank, warm, warm, thermalizing=True)
    comm.barrier()
    t0 = time.perf_counter()
    updater.sweep(spins, params, tuning, seed, comm.rank, 2 * warm, sweeps)
    if gpu:
        backend.xp.cuda.Device().synchronize()
    seconds = time.perf_counter() - t0
    comm.barrier()
    flips = model.n_sites * replicas * sweeps
    total_rate = comm.allreduce_sum([flips / seconds / 1e9])[0]
    return {
        "benchmark": "mc", "model": kind, "q": q, "algorithm": algorithm, "dim": dim, "L": L, "replicas": replicas, "sweeps": sweeps,
        "temperature": temperature, "ranks": comm.size, "backend": backend.name, "device": backend.device,
        "seconds": seconds, "flips_per_ns": total_rate, "flips_per_ns_per_rank": total_rate / comm.size,
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


def bench_rbm(comm, backend, n_hidden=64, batch_size=100, epochs=3, dtype="float32", method="pcd", seed=1):
    """PCD-1 throughput on Ising L = 10 data (Nv = 100): ``samples_per_s`` (all ranks together)."""
    from .rbm.training import Trainer, TrainingSettings
    data = ising_training_data()
    lo, hi = comm.slice(len(data))
    settings = TrainingSettings(n_hidden=n_hidden, method=method, batch_size=batch_size, dtype=dtype, seed=seed,
                                learning_rate=0.01)
    trainer = Trainer(settings, data[lo:hi], lo, len(data), comm, data.shape[1])
    state = trainer.initial_state()
    trainer.epoch(state)  # compile and warm up
    comm.barrier()
    t0 = time.perf_counter()
    for _ in range(epochs):
        trainer.epoch(state)
    seconds = time.perf_counter() - t0
    samples = epochs * trainer.batches * batch_size
    return {"benchmark": "rbm", "method": method, "k": 1, "n_visible": data.shape[1], "n_hidden": n_hidden,
            "batch_size": batch_size, "dtype": dtype, "samples": samples, "ranks": comm.size, "seconds": seconds,
            "samples_per_s": samples / seconds, "backend": backend.name, "device": backend.device}
