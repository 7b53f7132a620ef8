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
    updater = make_updater(algorithm, model)
    if sweeps <= 0:  # about 2e8 flip attempts per rank, at least 5 sweeps
        sweeps = max(5, int(2e8 // (model.n_sites * replicas)))
    spins = model.initial_state(seed, comm.rank, replicas, "random")
    params = updater.prepare(temperature, 0.0)
    tuning = np.zeros(updater.n_tuning, dtype=np.int64)
    warm = 1 if algorithm == "metropolis" else 20  # compile, warm up; then tune Wolff near equilibrium
    updater.sweep(spins, params, tuning, seed, comm.rank, 0, warm, thermalizing=True)
    updater.sweep(spins, params, tuning, seed, comm.rank, warm, warm, thermalizing=True)
    comm.barrier()
    t0 = time.perf_counter()
    updater.sweep(spins, params, tuning, seed, comm.rank, 2 * warm, sweeps)
    seconds = time.perf_counter() - t0
    comm.barrier()
    flips = model.n_sites * replicas * sweeps
    total_rate = comm.allreduce_sum([flips / seconds / 1e9])[0]
    return {
        "benchmark": "mc", "model": kind, "q": q, "algorithm": algorithm, "dim": dim, "L": L, "replicas": replicas, "sweeps": sweeps,
        "temperature": temperature, "ranks": comm.size, "backend": backend.name, "device": backend.device,
        "seconds": seconds, "flips_per_ns": total_rate, "flips_per_ns_per_rank": total_rate / comm.size,
    }
