"""In-memory sampling of one grid point (validation, tests, benchmarks); no files."""
import numpy as np


def sample_point(model, temperature, field, seed, point, replicas, thermalize, rounds, interval,
                 start="ordered"):
    """Per-sample energy and magnetisation per site, float64 (rounds, replicas).

    Same random streams and schedule as the simulate stage (round j ends at sweep
    thermalize + (j + 1) * interval), so results equal those in samples.h5 for that point.
    """
    spins = model.initial_state(seed, point, replicas, start)
    table = model.thresholds(temperature, field)
    model.sweep(spins, table, seed, point, 0, thermalize)
    energy = np.empty((rounds, replicas))
    magnetization = np.empty((rounds, replicas))
    for j in range(rounds):
        model.sweep(spins, table, seed, point, thermalize + j * interval, interval)
        energy[j], magnetization[j] = model.measure(spins, field)
    return energy, magnetization
