"""Block-spin renormalisation of Ising configurations (majority rule), the run's block-spin RG
flow read by the exact energy thermometer, and the talk's approximate coupling recursion."""
import dataclasses
import math

import numpy as np

from ..io import files
from ..montecarlo.models import make_model
from ..rng.streams import Purpose, counter_words
from ..thermometers.curve import CurveThermometer

BLOCK_SIZES = (2, 3)  # the block-spin RG's b


def block_spin(spins, b, seed, sample_ids):
    """Majority rule over b x b blocks of +-1 spins (n, L, L) -> (n, L/b, L/b).

    A tied block (even b) takes +1 iff word < 2**31, word = block index k of the BLOCK_SPIN
    stream (point = b, replica = sample id, step 0): random but reproducible.
    """
    n, L, _ = spins.shape
    if L % b:
        raise ValueError(f"L = {L} is not a multiple of b = {b}")
    m = L // b
    sums = spins.reshape(n, m, b, m, b).sum(axis=(2, 4), dtype=np.int64)
    out = np.sign(sums).astype(np.int8)
    ties = np.argwhere(sums == 0)
    if len(ties):
        for i in np.unique(ties[:, 0]):
            rows = ties[ties[:, 0] == i]
            k = rows[:, 1] * m + rows[:, 2]
            words = counter_words(seed, b, int(sample_ids[i]), 0, k, Purpose.BLOCK_SPIN)
            out[i, rows[:, 1], rows[:, 2]] = np.where(words < 2**31, 1, -1)
    return out


def rg_flow(cfg, samples_h5, b, n_configs=200):
    """[(T', error) per temperature] from majority-rule blocking by ``b`` at H = 0 (Ising, 2D
    only; None otherwise or where L does not allow it), read by the exact energy thermometer of
    the blocked L/b x L/b torus with the same J."""
    L = cfg.model.L
    if cfg.model.kind != "ising" or cfg.model.dim != 2 or 0.0 not in cfg.sampling.fields or L % b or L // b < 2:
        return None
    iH = list(cfg.sampling.fields).index(0.0)
    small_cfg = dataclasses.replace(cfg.model, L=L // b)
    small = make_model(small_cfg)
    thermometer = CurveThermometer.exact_energy(small_cfg)
    readings = []
    for iT in range(len(cfg.sampling.temperatures)):
        configs = files.read_point_configs(samples_h5, iT, iH, n_configs)
        blocked = block_spin(configs, b, cfg.run.seed, np.arange(len(configs)) + iT * n_configs)
        e, _ = small.measure(blocked, 0.0)
        t, dt, _ = thermometer.read(e.mean(), e.std() / math.sqrt(len(e)))
        readings.append((float(t), float(dt)))
    return readings


def talk_recursion(K):
    """K' = (3/8) ln cosh 4K, the talk's approximate decimation of the 2D Ising coupling."""
    return 0.375 * np.log(np.cosh(4 * np.asarray(K, float)))


def talk_fixed_point(lo=0.3, hi=1.0):
    """The nontrivial fixed point K* of :func:`talk_recursion` (about 0.507), by bisection."""
    f = lambda k: talk_recursion(k) - k  # noqa: E731
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(lo) * f(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)
