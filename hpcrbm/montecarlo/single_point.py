"""In-memory sampling of one grid point (validation, tests, benchmarks); no files."""
import numpy as np

from .updaters import make_updater


def sample_point(model, temperature, field, seed, point, replicas, thermalize, rounds, interval,
                 start="ordered", algorithm="metropolis"):
    """Per-sample energy and magnetisation per site, float64 (rounds, replicas).

    Same random streams and schedule as the simulate stage (round j ends at sweep
    thermalize + (j + 1) * interval; thermalisation in one piece), so for Metropolis and
    Swendsen-Wang the results equal those in samples.h5 for that point.
    """
    updater = make_updater(algorithm, model)
    spins = model.initial_state(seed, point, replicas, start, field)
    params = updater.prepare(temperature, field)
    tuning = np.zeros(updater.n_tuning, dtype=np.int64)
    updater.sweep(spins, params, tuning, seed, point, 0, thermalize, thermalizing=True)
    energy = np.empty((rounds, replicas))
    magnetization = np.empty((rounds, replicas))
    for j in range(rounds):
        updater.sweep(spins, params, tuning, seed, point, thermalize + j * interval, interval)
        energy[j], magnetization[j] = model.measure(spins, field)
    return energy, magnetization
