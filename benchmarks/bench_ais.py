"""AIS log Z timing (rbm/likelihood.py): Nh = 64, Nv = 100, 200 chains, 1000 temperatures,
float64, best of 3. Compare commits by running it from each checkout (PYTHONPATH=checkout)."""
import time

import numpy as np

from hpcrbm.rbm.likelihood import ais_log_partition
from hpcrbm.rbm.model import RBMParams


def main():
    rng = np.random.default_rng(1)
    params = RBMParams(0.1 * rng.standard_normal((64, 100)), 0.1 * rng.standard_normal(100),
                       0.1 * rng.standard_normal(64))
    ais_log_partition(params, np.zeros(100), 1, 10, 10)  # compile the numba streams
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        log_z, err = ais_log_partition(params, np.zeros(100), 1, 200, 1000)
        best = min(best, time.perf_counter() - t0)
    print(f"{best:.3f} s, log Z = {log_z!r} +- {err!r}")


if __name__ == "__main__":
    main()
