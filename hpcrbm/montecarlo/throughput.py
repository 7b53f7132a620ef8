"""Monte Carlo throughput in spin-flip attempts per nanosecond, measured on this machine
(``hpcrbm bench mc``, and the simulate stage's time estimate).

One lattice (or a batch of replicas) at one temperature; the first sweeps compile and warm
up the kernel and are not timed. Under mpiexec every rank runs the same benchmark on its own
core and the table reports the sum over ranks.
"""
import time

import numpy as np

from ..config import ModelConfig
from .models import make_model
from .updaters import make_updater


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
        from ..backend.cuda import compile_defines
        from .kernels.gpu import choose_path, metropolis_gpu
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
