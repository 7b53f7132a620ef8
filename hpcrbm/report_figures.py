"""The report's own figures (``hpcrbm report --out FILE.md`` writes them into FIGURES_DIR beside
FILE.md): every run's flow ends against its Tc and specific-heat maximum, and the two study series
(the end against 1/L, the end against the training grid). Drawn from the summaries alone."""
import numpy as np

from .analysis.figures import pyplot
from .io.hdf5 import replaced_on_success

FIGURES_DIR = "report_figures"
THERMOMETER_MARKERS = {"nn": "o", "energy": "s", "magnetization": "^"}


def _save(fig, path, plt):
    fig.tight_layout()
    with replaced_on_success(path, ".tmp") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def ends_vs_tc(runs, path, main_end, thermometers):
    """Per run (x), its flows' ends at H = 0 per thermometer (markers, error bars), Tc (black bar)
    and the Monte Carlo specific-heat maximum (red bar with its error)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(runs)), 4.5))
    for x, (_, s) in enumerate(runs):
        flows = [f for f in s.flows if f["field"] == 0.0]
        for k, f in enumerate(flows):
            for label in thermometers:
                T, err, _ = main_end(f["fixed_point"][label])
                if T is not None:
                    dx = 0.6 * (k + 0.5) / max(len(flows), 1) - 0.3
                    ax.errorbar(x + dx, T, err or 0, fmt=THERMOMETER_MARKERS.get(label, "o"), ms=3, lw=0.8,
                                color={"sample": "C0", "mean-field": "C1"}.get(f["mode"], "C2"), alpha=0.7)
        if np.isfinite(s.tc):
            ax.hlines(s.tc, x - 0.4, x + 0.4, color="k", lw=2)
        peak = flows[0]["specific_heat_peak"].get("monte_carlo") if flows else None
        if peak:
            ax.hlines(peak["T"], x - 0.4, x + 0.4, color="C3", lw=1.5)
    ax.set_xticks(range(len(runs)), [d.name for d, _ in runs], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("T where the flows end (H = 0)")
    ax.set_ylim(0, max([s.tc for _, s in runs if np.isfinite(s.tc)] + [1.0]) * 2.5)
    handles = [plt.Line2D([], [], color="k", lw=2, label="Tc"),
               plt.Line2D([], [], color="C3", lw=1.5, label="c maximum (MC)"),
               plt.Line2D([], [], color="C0", marker="o", ls="", label="sampled flow"),
               plt.Line2D([], [], color="C1", marker="o", ls="", label="mean-field flow")]
    handles += [plt.Line2D([], [], color="grey", marker=m, ls="", label=t) for t, m in THERMOMETER_MARKERS.items()]
    ax.legend(handles=handles, fontsize=7, ncol=4)
    return _save(fig, path, plt)


def ends_vs_size(series, fits, path, tc):
    """The L series: each (label -> [(L, T, err)]) against 1/L with its fit T_inf + a / L."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for k, (label, points) in enumerate(series.items()):
        pts = [(L, T, e) for L, T, e in points if T is not None]
        if not pts:
            continue
        L, T, e = map(np.array, zip(*pts))
        ax.errorbar(1 / L, T, e, fmt="o", ms=4, color=f"C{k}", label=label)
        fit = fits.get(label)
        if fit:
            x = np.linspace(0, 1 / L.min(), 20)
            ax.plot(x, fit[0] + fit[2] * x, color=f"C{k}", lw=1, ls="--")
    if np.isfinite(tc):
        ax.axhline(tc, color="k", ls=":", lw=1, label=f"Tc = {tc:.3f}")
    ax.set_xlabel("1 / L")
    ax.set_ylabel("T")
    ax.set_xlim(left=0)
    ax.legend(fontsize=7)
    return _save(fig, path, plt)


def ends_vs_grid(rows, path):
    """The training-set series: per grid (x), its median and mean T and the ends."""
    plt = pyplot()
    grids = list(dict.fromkeys(r[0] for r in rows))
    markers = dict(zip(sorted({r[4] for r in rows}), "osD^v"))  # per N_h
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for x, grid in enumerate(grids):
        mine = [r for r in rows if r[0] == grid]
        ax.hlines(mine[0][1], x - 0.4, x + 0.4, color="C2", lw=2)
        ax.hlines(mine[0][2], x - 0.4, x + 0.4, color="C4", lw=2, ls="--")
        ax.hlines(mine[0][3], x - 0.4, x + 0.4, color="k", lw=1)
        for k, r in enumerate(mine):
            if r[6] is not None:
                ax.errorbar(x - 0.3 + 0.6 * (k + 0.5) / len(mine), r[6], r[7] or 0, fmt=markers[r[4]], ms=4,
                            color={"sample": "C0", "mean-field": "C1"}.get(r[5], "C3"))
    ax.set_xticks(range(len(grids)), grids)
    ax.set_ylabel("T")
    handles = [plt.Line2D([], [], color="C2", lw=2, label="grid median"),
               plt.Line2D([], [], color="C4", lw=2, ls="--", label="grid mean"),
               plt.Line2D([], [], color="k", lw=1, label="Tc"),
               plt.Line2D([], [], color="C0", marker="o", ls="", label="end, sampled"),
               plt.Line2D([], [], color="C1", marker="o", ls="", label="end, mean-field")]
    handles += [plt.Line2D([], [], color="gray", marker=m, ls="", label=f"N_h = {nh}") for nh, m in markers.items()]
    ax.legend(handles=handles, fontsize=7)
    return _save(fig, path, plt)
