"""Figures of a run (matplotlib, PNG, no display needed), drawn from the files alone."""
import math

import numpy as np

from ..exact import kaufman_observables, onsager_magnetization
from ..flow.rg import talk_recursion


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def draw_all(run_dir, cfg, samples, flows, summary):
    """Write figures/*.png into run_dir; returns the list of paths."""
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    plt = _plt()
    paths = []
    for name, fn in (("mc_observables", mc_observables), ("flow_temperatures", flow_temperatures),
                     ("fixed_points_vs_nh", fixed_points_vs_nh), ("fixed_points_vs_field", fixed_points_vs_field),
                     ("exponent_fit", exponent_fit), ("rbm_flow_vs_rg", rbm_flow_vs_rg),
                     ("thermometer_calibration", thermometer_calibration), ("nn_histograms", nn_histograms)):
        fig = fn(plt, cfg, samples, flows, summary)
        if fig is not None:
            fig.tight_layout()
            path = out / f"{name}.png"
            fig.savefig(path, dpi=110, bbox_inches="tight")
            plt.close(fig)
            paths.append(path)
    return paths


def nh_keys(flows):
    """The trained RBMs' groups in flow.h5 ("nh16", ...), by N_h."""
    return sorted((k for k in flows["flow"] if k.startswith("nh")), key=lambda k: int(k[2:]))


def _tc_line(ax, summary, axis="x"):
    tc = summary["tc"]
    if math.isfinite(tc):
        (ax.axvline if axis == "x" else ax.axhline)(tc, color="k", ls=":", lw=1, label=f"Tc = {tc:.3f}")


def mc_observables(plt, cfg, samples, flows, summary):
    T = samples["temperatures"][:]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    exact = cfg.model.kind == "ising" and cfg.model.dim == 2
    fine = np.linspace(max(T.min(), 0.3), T.max(), 400)
    for iH, H in enumerate(cfg.sampling.fields):
        for ax, name in zip(axes, ("energy", "specific_heat", "abs_magnetization")):
            ax.errorbar(T, samples[f"summary/{name}"][:, iH], samples[f"summary/{name}_err"][:, iH], fmt="o", ms=3,
                        label=f"MC, H = {H:g}")
    if exact and 0.0 in cfg.sampling.fields:
        u, c = kaufman_observables(fine, cfg.model.L)
        axes[0].plot(fine, u, "k-", lw=1, label=f"Kaufman L = {cfg.model.L}")
        axes[1].plot(fine, c, "k-", lw=1, label=f"Kaufman L = {cfg.model.L}")
        axes[2].plot(fine, onsager_magnetization(fine), "k--", lw=1, label="Yang (L = inf)")
    for ax, label in zip(axes, ("energy per site u", "specific heat c", "|m|")):
        ax.set_xlabel("T")
        ax.set_ylabel(label)
        _tc_line(ax, summary)
        ax.legend(fontsize=7)
    fig.suptitle(f"{cfg.model.kind} {cfg.model.dim}D L = {cfg.model.L}: Monte Carlo vs exact")
    return fig


def flow_temperatures(plt, cfg, samples, flows, summary):
    kinds = flows["starts/kind"][:].astype(str)
    field_index = flows["starts/field_index"][:]
    starts_T = flows["starts/temperature"][:]
    keys = nh_keys(flows) + sorted(k for k in flows["flow"] if k.startswith("control_"))
    modes = sorted(flows[f"flow/{keys[0]}"])
    fig, axes = plt.subplots(len(modes), len(keys), figsize=(3.2 * len(keys), 3 * len(modes)), squeeze=False)
    sel = (kinds == "mc") & (field_index == 0)
    colours = plt.cm.viridis(np.linspace(0, 1, sel.sum()))
    for i, mode in enumerate(modes):
        for j, key in enumerate(keys):
            ax = axes[i, j]
            t = flows[f"flow/{key}/{mode}/temperature_energy"][sel]
            for row, colour in zip(t, colours):
                ax.plot(np.arange(len(row)), row, color=colour, lw=1)
            _tc_line(ax, summary, axis="y")
            ax.set_title(f"{'N_h = ' + key[2:] if key.startswith('nh') else key}, {mode}", fontsize=9)
            ax.set_xlabel("flow step")
            ax.set_ylabel("T (energy thermometer)")
            ax.set_ylim(0, min(np.nanmax(starts_T[sel]) * 1.2, 12))
    fig.suptitle(f"RBM flows from Monte Carlo starts (colour: start T), field {cfg.sampling.fields[0]:g}")
    return fig


def fixed_points_vs_nh(plt, cfg, samples, flows, summary):
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for mode in sorted({f["mode"] for f in summary["flows"]}):
        for label, marker in (("energy", "o"), ("magnetization", "s")):
            rows = [f for f in summary["flows"] if f["mode"] == mode and f["field"] == cfg.sampling.fields[0]]
            nh = [f["nh"] for f in rows]
            ax.errorbar(nh, [f["fixed_point"][label]["T"] for f in rows], [f["fixed_point"][label]["err"] for f in rows],
                        fmt=marker + "-", ms=4, label=f"{mode}, {label} thermometer")
    _tc_line(ax, summary, axis="y")
    peak = summary["flows"][0]["specific_heat_peak"]["T"]
    ax.axhline(peak, color="r", ls="--", lw=1, label=f"c peak (L = {cfg.model.L}) = {peak:.2f}")
    ax.set_xlabel("N_h")
    ax.set_ylabel("flow fixed point T")
    ax.legend(fontsize=7)
    return fig


def fixed_points_vs_field(plt, cfg, samples, flows, summary):
    if len(cfg.sampling.fields) < 2:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for nh in sorted({f["nh"] for f in summary["flows"]}):
        rows = [f for f in summary["flows"] if f["nh"] == nh and f["mode"] == summary["flows"][0]["mode"]]
        ax.errorbar([f["field"] for f in rows], [f["fixed_point"]["energy"]["T"] for f in rows],
                    [f["fixed_point"]["energy"]["err"] for f in rows], fmt="o-", ms=4, label=f"N_h = {nh}")
    rows = [f for f in summary["flows"] if f["nh"] == summary["flows"][0]["nh"] and f["mode"] == summary["flows"][0]["mode"]]
    ax.plot([f["field"] for f in rows], [f["specific_heat_peak"]["T"] for f in rows], "k--", label="c maximum")
    ax.set_xlabel("field H")
    ax.set_ylabel("flow fixed point T (energy)")
    ax.legend(fontsize=7)
    return fig


def exponent_fit(plt, cfg, samples, flows, summary):
    fits = summary.get("exponents") or {}
    mc = fits.get("monte_carlo")
    if not mc or mc.get("beta") is None:
        return None
    tc = summary["tc"]
    iH = list(cfg.sampling.fields).index(0.0)
    T = samples["temperatures"][:]
    m = samples["summary/abs_magnetization"][:, iH]
    t = 1 - T / tc
    sel = t > 0
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.loglog(t[sel], m[sel], "o", ms=4, label="Monte Carlo")
    x = np.geomspace(1e-3, 1, 50)
    ax.loglog(x, mc["amplitude"] * x ** mc["beta"], "-", label=f"fit beta = {mc['beta']:.3f} +- {mc['beta_err']:.3f}")
    ax.loglog(x, 1.2224 * x**0.125, "k--", lw=1, label="exact 1.222 t^(1/8)")
    ax.set_xlabel("1 - T/Tc")
    ax.set_ylabel("|m|")
    ax.legend(fontsize=7)
    return fig


def rbm_flow_vs_rg(plt, cfg, samples, flows, summary):
    rg = summary["rg"]["block_spin"]
    if not rg:
        return None
    fig, ax = plt.subplots(figsize=(5, 4))
    for b, rows in rg.items():
        ax.errorbar([r["T"] for r in rows], [r["T_blocked"] for r in rows], [r["err"] for r in rows], fmt="s-", ms=3,
                    label=f"block spin b = {b}")
    kinds = flows["starts/kind"][:].astype(str)
    sel = (kinds == "mc") & (flows["starts/field_index"][:] == list(cfg.sampling.fields).index(0.0))
    key = nh_keys(flows)[-1]
    for mode in flows[f"flow/{key}"]:
        ax.plot(flows["starts/temperature"][sel], flows[f"flow/{key}/{mode}/temperature_energy"][sel, 1], "o-", ms=3,
                label=f"RBM one step, N_h = {key[2:]}, {mode}")
    lim = [0, float(samples["temperatures"][:].max())]
    ax.plot(lim, lim, "k-", lw=0.5)
    T = np.linspace(0.5, lim[1], 200)
    ax.plot(T, 1 / talk_recursion(1 / T), "k--", lw=1, label="talk: K' = (3/8) ln cosh 4K")
    _tc_line(ax, summary)
    ax.set_xlabel("T before the step")
    ax.set_ylabel("T after one step (energy thermometer)")
    ax.set_ylim(0, lim[1] * 1.3)
    ax.legend(fontsize=7)
    return fig


def thermometer_calibration(plt, cfg, samples, flows, summary):
    """Predicted vs true temperature of the neural thermometer on held-out data, with spread."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for entry in summary["nn_thermometer"]:
        cal = entry["calibration"]
        ax.errorbar(cal["T"], cal["predicted_mean"], cal["predicted_std"], fmt="o-", ms=3,
                    label=f"H = {entry['field']:g}, accuracy {entry['accuracy']:.2f}")
    lim = [0, max(cfg.sampling.temperatures)]
    ax.plot(lim, lim, "k-", lw=0.5)
    _tc_line(ax, summary)
    ax.set_xlabel("true T (held-out Monte Carlo)")
    ax.set_ylabel("neural thermometer: predicted T")
    ax.legend(fontsize=7)
    return fig


def nn_histograms(plt, cfg, samples, flows, summary):
    """Histograms of the neural thermometer's predictions at several flow steps (largest N_h,
    first mode, all Monte Carlo starts at the first field together)."""
    key = nh_keys(flows)[-1]
    mode = sorted(flows[f"flow/{key}"])[0]
    counts = flows[f"flow/{key}/{mode}/nn_histogram"]
    kinds = flows["starts/kind"][:].astype(str)
    sel = (kinds == "mc") & (flows["starts/field_index"][:] == 0)
    T = np.asarray(cfg.sampling.temperatures)
    steps = counts.shape[1] - 1
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for step in sorted({0, 1, steps // 4, steps // 2, steps}):
        total = counts[sel, step].sum(axis=0)
        ax.step(T, total / max(total.sum(), 1), where="mid", label=f"step {step}")
    _tc_line(ax, summary)
    ax.set_xlabel("predicted T")
    ax.set_ylabel("fraction of flowed configurations")
    ax.set_title(f"N_h = {key[2:]}, {mode}", fontsize=9)
    ax.legend(fontsize=7)
    return fig
