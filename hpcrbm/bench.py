"""``hpcrbm bench mc``: Monte Carlo throughput in spin-flip attempts per nanosecond.

One lattice (or a batch of replicas) at one temperature; the first sweeps compile and warm
up the kernel and are not timed. Under mpiexec every rank runs the same benchmark on its own
core and the table reports the sum over ranks.
"""
import time

from .montecarlo.ising import IsingModel


def bench_mc(comm, backend, L=1024, dim=2, temperature=2.269, replicas=1, sweeps=0, seed=1):
    """Returns a dict with ``flips_per_ns`` (all ranks together) and what was measured."""
    model = IsingModel(dim, L)
    if sweeps <= 0:  # about 2e8 flip attempts per rank, at least 5 sweeps
        sweeps = max(5, int(2e8 // (model.n_sites * replicas)))
    spins = model.initial_state(seed, comm.rank, replicas)
    table = model.thresholds(temperature, 0.0)
    model.sweep(spins, table, seed, comm.rank, 0, 1)  # compile and warm up
    comm.barrier()
    t0 = time.perf_counter()
    model.sweep(spins, table, seed, comm.rank, 1, sweeps)
    seconds = time.perf_counter() - t0
    comm.barrier()
    flips = model.n_sites * replicas * sweeps
    total_rate = comm.allreduce_sum([flips / seconds / 1e9])[0]
    return {
        "benchmark": "mc", "model": "ising", "dim": dim, "L": L, "replicas": replicas, "sweeps": sweeps,
        "temperature": temperature, "ranks": comm.size, "backend": backend.name, "device": backend.device,
        "seconds": seconds, "flips_per_ns": total_rate, "flips_per_ns_per_rank": total_rate / comm.size,
    }
