"""Autocorrelation at Tc: Metropolis vs Wolff vs Swendsen-Wang, 2D Ising, one core.

For each L and algorithm: tau_int of the energy and of |m| (in sweeps; a Wolff sweep is a
fixed number of clusters flipping about N spins in all), wall time per sweep, and effective
independent samples per second = sweeps per second / (2 max(tau_E, tau_|m|)) per chain.
Prints a Markdown table. Usage: python benchmarks/bench_tau.py [L ...]
"""
import subprocess
import sys
import time

import numpy as np

from hpcrbm.exact import ising2d_critical_temperature
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.single_point import sample_point
from hpcrbm.stats import tau_int

REPLICAS, ROUNDS = 16, 3000


def measure(L, algorithm):
    model = IsingModel(2, L)
    T = ising2d_critical_temperature()
    thermalize = 5000 if algorithm == "metropolis" else 500
    sample_point(model, T, 0.0, 1, 0, 1, 10, 2, 1, algorithm=algorithm)  # compile
    t0 = time.perf_counter()
    e, m = sample_point(model, T, 0.0, 7, L, REPLICAS, thermalize, ROUNDS, 1, algorithm=algorithm)
    seconds = time.perf_counter() - t0
    per_sweep = seconds / (REPLICAS * (thermalize + ROUNDS))
    tau_e, tau_m = tau_int(e), tau_int(np.abs(m))
    return tau_e, tau_m, per_sweep, 1.0 / per_sweep / (2 * max(tau_e, tau_m))


def main(sizes):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"2D Ising at Tc, {REPLICAS} chains x {ROUNDS} sweeps, commit {commit}, {time.strftime('%Y-%m-%d')}")
    print("| L | algorithm | tau_int(E) [sweeps] | tau_int(abs m) [sweeps] | ms per sweep | independent samples/s |")
    print("|---|---|---|---|---|---|")
    for L in sizes:
        for algorithm in ("metropolis", "wolff", "swendsen-wang"):
            tau_e, tau_m, per_sweep, eff = measure(L, algorithm)
            print(f"| {L} | {algorithm} | {tau_e:.2f} | {tau_m:.2f} | {per_sweep * 1e3:.3f} | {eff:.0f} |", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [32, 64])
