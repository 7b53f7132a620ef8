"""Figures of a run (matplotlib, PNG, no display needed), drawn from the files alone."""
import functools
import math
from pathlib import Path

import numpy as np

from ..errors import InputError, WriteError
from ..exact.reference import exact_magnetization, exact_method, exact_observables
from ..io import files
from ..io.hdf5 import replaced_on_success
from .exponents import MIN_FIT_POINTS
from .rg import talk_recursion


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported when a figure is drawn)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


FIGURE_STAMP = "hpcrbm-inputs"  # the PNG text key of a figure's fingerprint digest (io/png.py)


def draw_all(run_dir, cfg, mc, flows, summary, comm, stamp, progress=None):
    """Write figures/*.png into run_dir, the figures spread over the ranks of ``comm``; returns
    the list of paths (every rank). ``mc``: samples.h5's summary (io.files.read_samples_summary),
    ``flows``: the open flow.h5, ``summary``: the run's io.summary.Summary; ``stamp``: the digest
    of the analysis stage's fingerprint, written into each PNG (text key FIGURE_STAMP) so that a
    figure of another analysis is recognised; ``progress``: made for the number of figures,
    updated as this rank's are drawn. Each figure is written to NAME.png.tmp and renamed; a
    failure to write raises WriteError naming the file."""
    out = run_dir / "figures"
    error = ""
    if comm.is_root:
        if out.exists() and not out.is_dir():
            error = f"{out}: exists and is not a directory; move it away (the figures go there)"
        else:
            out.mkdir(exist_ok=True)
    error = comm.bcast_text(error)
    if error:
        raise InputError(error)

    def draw(fn):
        plt = pyplot()
        name = fn.__name__
        fig = fn(plt, cfg, mc, flows, summary)
        if fig is None:
            return None
        fig.tight_layout()
        path = out / f"{name}.png"
        try:
            with replaced_on_success(path, ".tmp") as tmp:  # tight_layout above: no second layout pass
                fig.savefig(tmp, dpi=110, format="png", metadata={FIGURE_STAMP: stamp})
        except OSError as exc:  # a full disk, permissions: one line naming the figure
            raise WriteError(f"{path}: {exc.strerror or exc}") from None
        finally:
            plt.close(fig)
        return str(path)
    tasks = [functools.partial(draw, fn) for fn in FIGURES]
    return [Path(p) for p in comm.share(tasks, progress) if p is not None]


def _tc_line(ax, summary, axis="x"):
    tc = summary.tc
    if math.isfinite(tc):
        (ax.axvline if axis == "x" else ax.axhline)(tc, color="k", ls=":", lw=1, label=f"Tc = {tc:.3f}")


def mc_observables(plt, cfg, mc, flows, summary):
    T = mc["temperatures"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    fine = np.linspace(max(T.min(), 0.3), T.max(), 400)
    for iH, H in enumerate(cfg.sampling.fields):
        for ax, name in zip(axes, ("energy", "specific_heat", "abs_magnetization")):
            ax.errorbar(T, mc[name][:, iH], mc[f"{name}_err"][:, iH], fmt="o", ms=3, label=f"MC, H = {H:g}")
    for H in cfg.sampling.fields:  # the exact curves wherever one applies (a field: transfer matrix, L <= 10)
        method = exact_method(cfg.model, H)
        if method is None:
            continue
        grid = fine if method == "kaufman" or cfg.model.dim == 1 else np.linspace(fine[0], fine[-1], 60)
        u, c = exact_observables(cfg.model, grid, H)
        label = f"{method} L = {cfg.model.L}" + (f", H = {H:g}" if len(cfg.sampling.fields) > 1 else "")
        axes[0].plot(grid, u, "k-", lw=1, label=label)
        axes[1].plot(grid, c, "k-", lw=1, label=label)
    yang = exact_magnetization(cfg.model, fine)
    if yang is not None and 0.0 in cfg.sampling.fields:
        axes[2].plot(fine, yang, "k--", lw=1, label="Yang (L = inf)")
    for ax, label in zip(axes, ("energy per site u", "specific heat c", "|m|")):
        ax.set_xlabel("T")
        ax.set_ylabel(label)
        _tc_line(ax, summary)
        ax.legend(fontsize=7)
    fig.suptitle(f"{cfg.model.kind} {cfg.model.dim}D L = {cfg.model.L}: Monte Carlo vs exact")
    return fig


def flow_temperatures(plt, cfg, mc, flows, summary):
    kinds = files.start_kinds(flows)
    field_index = files.start_field_indices(flows)
    starts_T = files.start_temperatures(flows)
    keys = files.flow_keys(flows) + files.flow_keys(flows, controls=True)
    modes = files.flow_modes(flows, keys[0])
    fig, grid = plt.subplots(len(modes), len(keys) + 1, figsize=(3.2 * len(keys) + 0.6, 3 * len(modes)),
                             squeeze=False, gridspec_kw={"width_ratios": [1] * len(keys) + [0.06]})
    axes, bars = grid[:, :-1], grid[:, -1]
    sel = (kinds == "mc") & (field_index == 0)
    colours = plt.cm.viridis(np.linspace(0, 1, sel.sum()))
    for i, mode in enumerate(modes):
        for j, key in enumerate(keys):
            ax = axes[i, j]
            t = flows[files.flow_dataset(key, mode, "temperature_energy")][sel]
            for row, colour in zip(t, colours):
                ax.plot(np.arange(len(row)), row, color=colour, lw=1)
            _tc_line(ax, summary, axis="y")
            ax.set_title(f"{'N_h = ' + key[2:] if key.startswith('nh') else key}, {mode}", fontsize=9)
            ax.set_xlabel("flow step")
            ax.set_ylabel("T (energy thermometer)")
    top = max(np.nanmax(flows[files.flow_dataset(key, mode, "temperature_energy")][sel])
              for key in keys for mode in modes)
    for ax in axes.ravel():
        ax.set_ylim(0, 1.05 * top if np.isfinite(top) else None)  # every panel's flows, the controls' included
    norm = plt.Normalize(np.nanmin(starts_T[sel]), np.nanmax(starts_T[sel]))
    for bar in bars:
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=plt.cm.viridis), cax=bar, label="start T")
    fig.suptitle(f"RBM flows from Monte Carlo starts, field {cfg.sampling.fields[0]:g}")
    return fig


def _end_points(ax, xs, readings, fmt, colour, label):
    """Fixed points (filled, with error bars) and, where the flows did not meet, each branch's
    mean (open) with the range of its end points (branches beyond the thermometer's range are
    left out: they have no temperature); ``readings``: one verdict dict per x."""
    fixed = [(x, r["T"], r["err"]) for x, r in zip(xs, readings) if r["T"] is not None]
    if fixed:
        ax.errorbar(*zip(*fixed), fmt=fmt, ms=4, color=colour, label=f"{label}: fixed point")
    apart = [(x, b) for x, r in zip(xs, readings) if r["T"] is None for b in r["branches"]
             if not b.get("beyond_range")]
    if apart:
        ax.errorbar([x for x, _ in apart], [b["T"] for _, b in apart],
                    [[b["T"] - b["T_min"] for _, b in apart], [b["T_max"] - b["T"] for _, b in apart]],
                    fmt=fmt[0], ms=5, mfc="none", color=colour, ls="none", label=f"{label}: attractors (not met)")


def fixed_points_vs_nh(plt, cfg, mc, flows, summary):
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    colours = iter(plt.cm.tab10.colors)
    for mode in sorted({f["mode"] for f in summary.flows}):
        for label, marker in (("energy", "o"), ("magnetization", "s")):
            rows = [f for f in summary.flows if f["mode"] == mode and f["field"] == cfg.sampling.fields[0]]
            _end_points(ax, [f["nh"] for f in rows], [f["fixed_point"][label] for f in rows], marker + "-",
                        next(colours), f"{mode}, {label}")
    _tc_line(ax, summary, axis="y")
    peak = summary.flows[0]["specific_heat_peak"]["T"]
    ax.axhline(peak, color="r", ls="--", lw=1, label=f"c peak (L = {cfg.model.L}) = {peak:.2f}")
    ax.set_xlabel("N_h")
    ax.set_ylabel("where the flows end: T")
    ax.legend(fontsize=6)
    return fig


def fixed_points_vs_field(plt, cfg, mc, flows, summary):
    if len(cfg.sampling.fields) < 2:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    colours = iter(plt.cm.tab10.colors)
    first = summary.flows[0]
    for nh in sorted({f["nh"] for f in summary.flows}):
        rows = [f for f in summary.flows if f["nh"] == nh and f["mode"] == first["mode"]]
        _end_points(ax, [f["field"] for f in rows], [f["fixed_point"]["energy"] for f in rows], "o-",
                    next(colours), f"N_h = {nh}")
    rows = [f for f in summary.flows if f["nh"] == first["nh"] and f["mode"] == first["mode"]]
    ax.plot([f["field"] for f in rows], [f["specific_heat_peak"]["T"] for f in rows], "k--", label="c maximum")
    ax.set_xlabel("field H")
    ax.set_ylabel("where the flows end: T (energy)")
    ax.legend(fontsize=6)
    return fig


def fixed_points_vs_epochs(plt, cfg, mc, flows, summary):
    """Where the flows end (energy thermometer, first field) against training epochs, per N_h
    and mode: fixed points filled, separate attractors open with their range."""
    entries = [e for e in summary.training or [] if e["field"] == cfg.sampling.fields[0]]
    if not entries:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    colours = iter(plt.cm.tab10.colors * 3)
    for nh in sorted({e["nh"] for e in entries}):
        for mode, fmt in (("mean-field", "o-"), ("sample", "s--")):
            rows = [e for e in entries if e["nh"] == nh and e["mode"] == mode]
            if rows:
                _end_points(ax, [e["epoch"] for e in rows], [e["fixed_point"]["energy"] for e in rows], fmt,
                            next(colours), f"N_h = {nh}, {mode}")
    _tc_line(ax, summary, axis="y")
    ax.set_xscale("log")
    ax.set_xlabel("training epochs")
    ax.set_ylabel("where the flows end: T (energy)")
    ax.legend(fontsize=6)
    return fig


def exponent_fit(plt, cfg, mc, flows, summary):
    fits = summary.exponents or {}
    fit = fits.get("monte_carlo")
    if not fit or fit.get("beta") is None:
        return None
    tc = summary.tc
    iH = list(cfg.sampling.fields).index(0.0)
    T = mc["temperatures"]
    m = mc["abs_magnetization"][:, iH]
    t = 1 - T / tc
    sel = t > 0
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.loglog(t[sel], m[sel], "o", ms=4, label="Monte Carlo")
    lo, hi = (1 - T_edge / tc for T_edge in reversed(fit["fit_range_T"]))  # the fit's window in 1 - T/Tc
    x = np.geomspace(lo, hi, 50)
    few = fit["points"] < MIN_FIT_POINTS
    ax.loglog(x, fit["amplitude"] * x ** fit["beta"], "-", lw=2,
              label=f"fit on {fit['points']} points: beta = {fit['beta']:.3f} +- {fit['beta_err']:.3f}"
                    + (" (too few points: not judged)" if few else ""))
    ax.axvspan(lo, hi, color="0.9", zorder=0, label="fit window")
    x = np.geomspace(1e-3, 1, 50)
    ax.loglog(x, 1.2224 * x**0.125, "k--", lw=1, label="exact 1.222 t^(1/8)")
    ax.set_xlabel("1 - T/Tc")
    ax.set_ylabel("|m|")
    ax.legend(fontsize=7)
    return fig


def rbm_flow_vs_rg(plt, cfg, mc, flows, summary):
    rg = summary.rg["block_spin"]
    if not rg:
        return None
    fig, ax = plt.subplots(figsize=(5, 4))
    for b, rows in rg.items():
        ax.errorbar([r["T"] for r in rows], [r["T_blocked"] for r in rows], [r["err"] for r in rows], fmt="s-", ms=3,
                    label=f"block spin b = {b}")
    kinds = files.start_kinds(flows)
    sel = (kinds == "mc") & (files.start_field_indices(flows) == list(cfg.sampling.fields).index(0.0))
    key = files.flow_keys(flows)[-1]
    for mode in files.flow_modes(flows, key):
        one_step = flows[files.flow_dataset(key, mode, "temperature_energy")][sel, 1]
        ax.plot(files.start_temperatures(flows)[sel], one_step, "o-", ms=3,
                label=f"RBM one step, N_h = {key[2:]}, {mode}")
    lim = [0, float(mc["temperatures"].max())]
    ax.plot(lim, lim, "k-", lw=0.5)
    T = np.linspace(0.5, lim[1], 200)
    ax.plot(T, 1 / talk_recursion(1 / T), "k--", lw=1, label="talk: K' = (3/8) ln cosh 4K")
    _tc_line(ax, summary)
    ax.set_xlabel("T before the step")
    ax.set_ylabel("T after one step (energy thermometer)")
    ax.set_ylim(0, lim[1] * 1.3)
    ax.legend(fontsize=7)
    return fig


def thermometer_calibration(plt, cfg, mc, flows, summary):
    """Predicted vs true temperature of the neural thermometer on held-out data, with spread."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for entry in summary.nn_thermometer:
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


def nn_histograms(plt, cfg, mc, flows, summary):
    """Histograms of the neural thermometer's predictions at several flow steps (largest N_h,
    first mode, all Monte Carlo starts at the first field together)."""
    key = files.flow_keys(flows)[-1]
    mode = files.flow_modes(flows, key)[0]
    counts = flows[files.flow_dataset(key, mode, "nn_histogram")]
    kinds = files.start_kinds(flows)
    sel = (kinds == "mc") & (files.start_field_indices(flows) == 0)
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


FIGURES = (mc_observables, flow_temperatures, fixed_points_vs_nh, fixed_points_vs_field, fixed_points_vs_epochs,
           exponent_fit, rbm_flow_vs_rg, thermometer_calibration, nn_histograms)
