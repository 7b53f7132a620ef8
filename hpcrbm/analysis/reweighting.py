"""Multi-histogram reweighting (Ferrenberg and Swendsen 1989) of stored Monte Carlo energies, and
the temperature of the specific-heat maximum with a jackknife error.

Samples x of runs k at inverse temperatures beta_k (N_k samples each, total energies E_x, the
field term included; the field is the same for every run) give at any beta

    <O>(beta) = sum_x O_x w_x(beta) / sum_x w_x(beta),   w_x(beta) = exp(-beta E_x) / D_x,
    D_x = sum_k N_k exp(-beta_k E_x + f_k),   exp(-f_k) = sum_x exp(-beta_k E_x) / D_x,

solved for the f_k by iteration (all in logarithms). Valid where the runs' energy histograms
overlap, so only the runs around the maximum are used.
"""
import numpy as np
from scipy.special import logsumexp

from ..stats.statistics import block_labels


def free_energies(energies, betas, tol=1e-10, max_iter=10000):
    """The f_k (k runs, f_0 = 0) of the multi-histogram equations; ``energies``: list of 1D
    arrays of total energies, one per run at inverse temperature betas[k]."""
    E = np.concatenate(energies)
    log_n = np.log([len(e) for e in energies])
    betas = np.asarray(betas, float)
    f = np.zeros(len(energies))
    for _ in range(max_iter):
        log_d = logsumexp(log_n[:, None] - betas[:, None] * E[None, :] + f[:, None], axis=0)
        new = -logsumexp(-betas[:, None] * E[None, :] - log_d[None, :], axis=1)
        new -= new[0]
        if np.max(np.abs(new - f)) < tol:
            return new
        f = new
    return f


def reweighted_specific_heat(energies, betas, temperatures, n_sites):
    """c(T) per site at ``temperatures`` from the runs' total energies (multi-histogram)."""
    E = np.concatenate(energies)
    log_n = np.log([len(e) for e in energies])
    betas = np.asarray(betas, float)
    f = free_energies(energies, betas)
    log_d = logsumexp(log_n[:, None] - betas[:, None] * E[None, :] + f[:, None], axis=0)
    out = []
    scale = np.abs(E).max() or 1.0
    for T in np.atleast_1d(temperatures):
        log_w = -E / T - log_d
        w = np.exp(log_w - log_w.max())
        w /= w.sum()
        mean = np.sum(w * E / scale)
        var = np.sum(w * (E / scale - mean) ** 2) * scale**2
        out.append(var / (n_sites * T * T))
    return np.array(out)


def specific_heat_peak(temperatures, energies, n_sites, points=201):
    """Temperature of the specific-heat maximum from stored samples, with its jackknife error.

    temperatures (nT,) increasing; energies: (nT, rounds, R) energies per site of one field's
    runs. The runs at the Monte Carlo maximum of c and its neighbours are reweighted together
    and c is maximised on ``points`` temperatures between the neighbours; the error is the
    jackknife over the same blocks as the summary's errors (groups of replicas or segments of
    rounds, stats/statistics.py), all runs' block b left out together. Returns a dict with
    "T", "err", "window" (the temperatures used) and "at_edge" (True when the maximum sits at
    the end of the window, where the reweighting is least reliable); None with fewer than 3
    temperatures.
    """
    T = np.asarray(temperatures, float)
    e = np.asarray(energies, float)
    if len(T) < 3:
        return None
    c_grid = n_sites * e.reshape(len(T), -1).var(axis=1) / T**2
    i = int(np.clip(np.nanargmax(c_grid), 1, len(T) - 2))
    runs = [i - 1, i, i + 1]
    fine = np.linspace(T[runs[0]], T[runs[-1]], points)
    labels = block_labels(*e.shape[1:])
    betas = 1 / T[runs]

    def peak(keep):
        hist = [n_sites * e[k][keep] for k in runs]
        c = reweighted_specific_heat(hist, betas, fine, n_sites)
        return fine[int(np.argmax(c))]

    everything = np.ones(e.shape[1:], bool)
    value = peak(everything)
    n_blocks = int(labels.max()) + 1
    leave_out = np.array([peak(labels != b) for b in range(n_blocks)])
    err = float(np.sqrt((n_blocks - 1) / n_blocks * np.sum((leave_out - leave_out.mean()) ** 2)))
    return {"T": float(value), "err": err, "window": [float(T[runs[0]]), float(T[runs[-1]])],
            "at_edge": bool(value in (fine[0], fine[-1])), "method": "multi-histogram reweighting, jackknife"}
