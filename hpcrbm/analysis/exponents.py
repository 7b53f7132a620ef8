"""The exponent beta from |m| = A (1 - T/Tc)^beta below Tc, for the Monte Carlo data, the exact
curve on the same temperatures, and the one-step reconstructions of the flow (step 1 of every
Monte Carlo start)."""
import math

import numpy as np

from ..exact.reference import exact_magnetization
from ..io import files

MIN_FIT_POINTS = 5  # a fit on fewer temperatures is not judged (report) and flagged (figures)


def fit_beta(T, m, m_err, tc, window=(0.05, 0.4)):
    """Fit |m| = A (1 - T/Tc)^beta on tc*(1-window[1]) < T < tc*(1-window[0]); returns dict."""
    from scipy.optimize import curve_fit
    t = 1 - np.asarray(T) / tc
    sel = (t > window[0]) & (t < window[1]) & np.isfinite(m) & (np.asarray(m) > 0)
    result = {"fit_range_T": [float(tc * (1 - window[1])), float(tc * (1 - window[0]))], "points": int(sel.sum())}
    if sel.sum() < 3:
        return {**result, "beta": None, "beta_err": None, "amplitude": None}
    sigma = np.maximum(np.asarray(m_err)[sel], 1e-4)
    (A, beta), cov = curve_fit(lambda x, a, b: a * x**b, t[sel], np.asarray(m)[sel], p0=(1.2, 0.125),
                               sigma=sigma, absolute_sigma=True, maxfev=10000)
    return {**result, "beta": float(beta), "beta_err": float(np.sqrt(cov[1, 1])), "amplitude": float(A),
            "amplitude_err": float(np.sqrt(cov[0, 0]))}


def exponents(cfg, mc, flows, tc):
    """beta fitted to the Monte Carlo |m|, to the exact curve on the same points, and to the
    one-step reconstructions of every flow family (:func:`fit_beta`); {} without a finite Tc
    or H = 0."""
    out = {}
    if not math.isfinite(tc) or 0.0 not in cfg.sampling.fields:
        return out
    T = mc["temperatures"]
    iH = list(cfg.sampling.fields).index(0.0)
    m, dm = mc["abs_magnetization"][:, iH], mc["abs_magnetization_err"][:, iH]
    out["monte_carlo"] = fit_beta(T, m, dm, tc)
    exact_m = exact_magnetization(cfg.model, T)
    if exact_m is not None:  # the exact (L = inf) curve fitted on the same points
        out["exact_same_points"] = fit_beta(T, exact_m, np.full(len(T), 1e-3), tc)
    kinds = files.start_kinds(flows)
    sel = (kinds == "mc") & (files.start_field_indices(flows) == iH)
    for nh_key in files.flow_keys(flows):
        for mode in files.flow_modes(flows, nh_key):
            g = flows[files.flow_group(nh_key, mode)]
            out[f"reconstruction_{nh_key}_{mode}"] = fit_beta(
                files.start_temperatures(flows)[sel], g["abs_magnetization"][sel, 1],
                g["abs_magnetization_err"][sel, 1], tc)
    return out
