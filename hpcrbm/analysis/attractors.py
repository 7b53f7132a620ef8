"""Where a set of flows ends: one fixed point, separate attractors, or still moving.

Input: a thermometer's readings T (n_starts, steps + 1) of flows from different starts, with
their statistical errors dT (same shape). Two readings are *the same temperature* when they
differ by at most ``z`` combined errors plus the thermometer's ``resolution`` (an absolute
temperature below which it cannot tell two ensembles apart).

- A start has *stopped moving* when its last reading equals (in that sense) its reading
  ``window`` steps earlier; the convergence step is the first step after which every start's
  readings all equal its last one.
- The starts *have met* when every pair of last readings is the same temperature.
- A reading outside the thermometer's range (``inside`` false: clipped at an end of it) is no
  temperature: such starts form a branch of their own marked ``beyond_range``, and the flows
  then have no fixed point ("beyond range" when no start ends inside the range).
- Verdict: "fixed point" when every start stopped moving and all met: T is the mean of the last
  readings, its error sqrt(spread^2 / n + mean(dT^2) / n) (spread over starts and the chains'
  statistical error). With flows of G > 1 independently trained RBMs (``groups``: the training
  seed of each row), every row must meet every other, T is the mean of the G seeds' means and its
  error sqrt(s_G^2 / G + mean(dT^2) / n), s_G the standard deviation (ddof 1) of the seeds' means:
  the spread over training seeds, which contains the spread over starts. When every start stopped but they did
  not meet, the last readings split into branches at gaps wider than the tolerance, each branch
  with its starts, mean and error, and there is no overall T: "separate attractors" with two
  branches or more, "stopped, not met" when the end points form one band too wide for a single
  temperature. "still moving" otherwise (the moving starts are named), again with branches and
  no overall T; "too short" for flows of fewer steps than the window.
"""
import math

import numpy as np


def same_temperature(a, da, b, db, z, resolution):
    return abs(a - b) <= z * math.hypot(da, db) + resolution


def _branches(last, err, labels, z, resolution, beyond_range=False):
    order = np.argsort(last, kind="stable")
    groups, current = [], [order[0]]
    for prev, nxt in zip(order[:-1], order[1:]):
        if same_temperature(last[prev], err[prev], last[nxt], err[nxt], z, resolution):
            current.append(nxt)
        else:
            groups.append(current)
            current = [nxt]
    groups.append(current)
    out = []
    for g in groups:
        g = sorted(g)  # starts in their own order
        t, dt = last[g], err[g]
        spread = float(np.std(t))
        out.append({"T": float(np.mean(t)), "err": math.sqrt(spread**2 / len(g) + float(np.mean(dt**2)) / len(g)),
                    "spread": spread, "T_min": float(t.min()), "T_max": float(t.max()),
                    "starts": [labels[i] for i in g], "beyond_range": beyond_range})
    return out


VERDICTS = ("fixed point", "separate attractors", "stopped, not met", "still moving", "beyond range",
            "too short")


def classify_flows(T, dT, labels, z=3.0, resolution=0.02, window=None, inside=None, groups=None):
    """The verdict on flows ``T`` (n_starts, steps + 1) with errors ``dT`` from starts named by
    ``labels``; see the module docstring. ``window``: steps compared for "stopped moving"
    (default a quarter of the steps, at least 1). ``inside`` (same shape, optional): whether each
    reading lies inside the thermometer's range. ``groups`` (n_starts,) optional: the training seed
    of each row. Non-finite readings count as moving."""
    T, dT = np.asarray(T, float), np.nan_to_num(np.asarray(dT, float), nan=np.inf)
    outside = np.zeros(len(T), bool) if inside is None else ~np.asarray(inside, bool)[:, -1]
    n, length = T.shape
    steps = length - 1
    window = max(1, steps // 4) if window is None else window
    result = {"verdict": "still moving", "T": None, "err": None, "spread": None, "convergence_step": None,
              "window": window, "z": z, "resolution": resolution, "moving_starts": [], "branches": [],
              "error_contains": "spread over starts and the chains' statistical error"}
    if n == 0 or steps < window or steps == 0:
        result["verdict"] = "too short"
        return result
    last, err = T[:, -1], dT[:, -1]
    finite = np.isfinite(last)
    moving = [labels[s] for s in range(n)
              if not (finite[s] and np.isfinite(T[s, -1 - window])
                      and same_temperature(last[s], err[s], T[s, -1 - window], dT[s, -1 - window], z, resolution))]
    result["moving_starts"] = moving
    for beyond in (False, True):
        keep = np.flatnonzero(finite & (outside == beyond))
        if len(keep):
            result["branches"] += _branches(last[keep], err[keep], [labels[i] for i in keep], z, resolution, beyond)
    if moving:
        return result
    settled = []
    for s in range(n):
        close = [same_temperature(T[s, t], dT[s, t], last[s], err[s], z, resolution) for t in range(length)]
        away = [t for t, ok in enumerate(close) if not ok]
        settled.append(away[-1] + 1 if away else 0)
    result["convergence_step"] = int(max(settled))
    if outside.all():
        result["verdict"] = "beyond range"
        return result
    met = not outside.any() and all(same_temperature(last[i], err[i], last[j], err[j], z, resolution)
                                    for i in range(n) for j in range(i + 1, n))
    if not met:
        result["verdict"] = "separate attractors" if len(result["branches"]) > 1 else "stopped, not met"
        return result
    sd = float(np.std(last))
    result.update(verdict="fixed point", T=float(np.mean(last)),
                  err=math.sqrt(sd**2 / n + float(np.mean(err**2)) / n), spread=sd)
    seeds = np.unique(groups) if groups is not None else []
    if len(seeds) > 1:
        means = np.array([last[np.asarray(groups) == g].mean() for g in seeds])
        s_g = float(np.std(means, ddof=1))
        result.update(T=float(means.mean()), err=math.sqrt(s_g**2 / len(seeds) + float(np.mean(err**2)) / n),
                      seed_spread=s_g, seeds=len(seeds),
                      error_contains="spread over training seeds (and so over starts) and the chains' "
                                     "statistical error")
    return result
