"""The analysis stage: ``hpcrbm analyze RUN_DIR`` -> analysis.h5, summary.json, figures/*.png.

What it computes (docs/results.md discusses the numbers):
- fixed points: for every (Nh, field, mode), the temperature that flows from Monte Carlo starts
  reach at the last step, read by the energy and |m| thermometers (mean over starts; error =
  spread of the starts combined with the thermometer errors), beside Tc and the temperature of
  the specific-heat maximum (Kaufman's finite-L peak for the Ising model at H = 0, else the
  Monte Carlo maximum at that field);
- the exponent beta from |m| = A (Tc - T)^beta below Tc, for the Monte Carlo data and for the
  one-step reconstructions of the flow (step 1 of every Monte Carlo start);
- validation: the run's Monte Carlo u and c against exact results where they exist, by z-score;
- the block-spin RG flow (b = 2, 3 where L allows): the temperature of majority-rule blocked
  configurations read by the exact energy thermometer of the blocked size, beside the talk's
  recursion K' = (3/8) ln cosh 4K.
"""
import json
import math
from pathlib import Path

import h5py
import numpy as np

from ..config import ModelConfig, fingerprint
from ..errors import InputError
from ..exact import ising2d_critical_temperature, kaufman_observables, onsager_magnetization
from ..flow.rg import block_spin, talk_fixed_point
from ..flow.thermometers import CurveThermometer
from ..io.hdf5 import replaced_on_success
from ..io.inspect import is_complete, load_run_config
from ..io.provenance import now
from ..log import get_logger
from ..montecarlo.models import make_model

ANALYSIS_FILE = "analysis.h5"
ANALYSIS_SECTIONS = ("run.seed", "model", "sampling", "rbm", "thermometer", "flow", "analysis")


def critical_temperature(cfg):
    """Infinite-lattice Tc of the configured 2D model (J = 1 scaled by J), or NaN."""
    J, q, kind = cfg.model.J, cfg.model.q, cfg.model.kind
    if cfg.model.dim != 2:
        return float("nan")
    if kind == "ising":
        return ising2d_critical_temperature(J)
    if kind == "potts":
        return J / math.log(1 + math.sqrt(q))
    if kind == "clock" and q == 4:
        return J / math.log(1 + math.sqrt(2))
    if kind == "clock" and q == 3:
        return 1.5 * J / math.log(1 + math.sqrt(3))
    return float("nan")


def specific_heat_peak(cfg, T, c, iH):
    """Temperature of the specific-heat maximum at field index iH."""
    exact = cfg.model.kind == "ising" and cfg.model.dim == 2 and cfg.sampling.fields[iH] == 0
    if exact:
        grid = np.linspace(max(T.min(), 0.5), T.max(), 2000)
        return float(grid[np.argmax(kaufman_observables(grid, cfg.model.L)[1])]), "kaufman"
    return float(T[np.nanargmax(c[:, iH])]), "monte carlo"


def fixed_points(cfg, flow_h5, controls=False):
    """List of dicts (nh or control, field, mode, fixed_point{nn, energy, magnetization})."""
    kinds = flow_h5["starts/kind"][:].astype(str)
    field_index = flow_h5["starts/field_index"][:]
    out = []
    for key in flow_h5["flow"]:
        if key.startswith("control_") != controls:
            continue
        for mode in flow_h5[f"flow/{key}"]:
            g = flow_h5[f"flow/{key}/{mode}"]
            for iH, H in enumerate(cfg.sampling.fields):
                sel = (kinds == "mc") & (field_index == iH)
                label_key = {"control": key[8:]} if controls else {"nh": int(key[2:])}
                entry = {**label_key, "field": float(H), "mode": mode, "fixed_point": {}}
                for label in ("nn", "energy", "magnetization"):
                    t = g[f"temperature_{label}"][sel, -1]
                    dt = g[f"temperature_{label}_err"][sel, -1]
                    err = math.sqrt(np.std(t) ** 2 / max(len(t), 1) + np.mean(dt**2) / max(len(t), 1))
                    entry["fixed_point"][label] = {"T": float(np.mean(t)), "err": err, "spread": float(np.std(t))}
                out.append(entry)
    return out


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


def exact_reference(cfg, T, H):
    """Exact (u, c) per site for this run's model and size at (T, H), or None where unknown:
    2D Ising at H = 0 (Kaufman), q = 2 Potts and q = 4 clock (mapped onto it), 1D Ising rings
    (transfer matrix, any field)."""
    from ..exact import ring_observables
    kind, q, L, J, dim = cfg.model.kind, cfg.model.q, cfg.model.L, cfg.model.J, cfg.model.dim
    if dim == 1 and kind == "ising":
        u, _, c, _ = ring_observables(T, H, L, J)
        return u, c
    if dim != 2 or H != 0 or J != 1.0:
        return None
    if kind == "ising":
        u, c = kaufman_observables(T, L)
        return u[0], c[0]
    if (kind, q) == ("potts", 2):
        u, c = kaufman_observables(2 * T, L)
        return -1 + u[0] / 2, c[0]
    if (kind, q) == ("clock", 4):
        u, c = kaufman_observables(2 * T, L)
        return u[0], 2 * c[0]
    return None


def validation(cfg, samples_h5, z_max=4.0):
    """This run's Monte Carlo averages against exact results, by z-score."""
    T, fields = samples_h5["temperatures"][:], samples_h5["fields"][:]
    checks = []
    for iH, H in enumerate(fields):
        for iT, t in enumerate(T):
            exact = exact_reference(cfg, float(t), float(H))
            if exact is None:
                continue
            for name, value in zip(("energy", "specific_heat"), exact):
                mean = float(samples_h5[f"summary/{name}"][iT, iH])
                err = float(samples_h5[f"summary/{name}_err"][iT, iH])
                z = (mean - value) / err if err > 0 else float("nan")
                checks.append({"T": float(t), "H": float(H), "observable": name, "value": mean, "err": err,
                               "exact": float(value), "z": z})
    judged = [c for c in checks if math.isfinite(c["z"])]
    return {"z_max": z_max, "checks": checks, "passed": int(sum(abs(c["z"]) < z_max for c in judged)),
            "failed": int(sum(abs(c["z"]) >= z_max for c in judged)), "not_judged": len(checks) - len(judged),
            "note": "no exact result for this model, size or field" if not checks else
                    "errors of zero (frozen samples) are not judged"}


def rg_flow(cfg, samples_h5, n_configs=200):
    """{b: T' per temperature} from majority-rule blocking at H = 0 (Ising, 2D only)."""
    if cfg.model.kind != "ising" or cfg.model.dim != 2 or 0.0 not in cfg.sampling.fields:
        return {}
    iH = list(cfg.sampling.fields).index(0.0)
    L = cfg.model.L
    out = {}
    for b in (2, 3):
        if L % b or L // b < 2:
            continue
        small = make_model(ModelConfig(kind="ising", dim=2, L=L // b, J=cfg.model.J))
        thermometer = CurveThermometer.kaufman_energy(L // b)
        readings = []
        for iT in range(len(cfg.sampling.temperatures)):
            configs = samples_h5["configs"][iT, iH, :n_configs]
            blocked = block_spin(configs, b, cfg.run.seed, np.arange(len(configs)) + iT * n_configs)
            e, _ = small.measure(blocked, 0.0)
            t, dt, _ = thermometer.read(e.mean(), e.std() / math.sqrt(len(e)))
            readings.append((float(t), float(dt)))
        out[b] = readings
    return out


def nn_summary(run_dir):
    """Held-out accuracy and calibration (mean, spread of predicted T per true T) per field."""
    with h5py.File(run_dir / "thermometer.h5", "r") as h5:
        return [{"field": float(g.attrs["field"]), "accuracy": float(g.attrs["accuracy"]),
                 "calibration": {"T": h5["temperatures"][:].tolist(),
                                 "predicted_mean": g["calibration/predicted_mean"][:].tolist(),
                                 "predicted_std": g["calibration/predicted_std"][:].tolist()}}
                for g in (h5[f"thermometer/{k}"] for k in sorted(h5["thermometer"], key=lambda k: int(k[5:])))]


def write_analysis_file(path, summary, inputs):
    """analysis.h5: the fixed points as a table and the RG flow, written atomically."""
    fps = summary["flows"]
    with replaced_on_success(path) as tmp, h5py.File(tmp, "w") as h5:
        h5["fixed_points/nh"] = np.array([f["nh"] for f in fps])
        h5["fixed_points/field"] = np.array([f["field"] for f in fps])
        h5["fixed_points/mode"] = np.array([f["mode"] for f in fps], dtype=h5py.string_dtype())
        for label in ("nn", "energy", "magnetization"):
            h5[f"fixed_points/T_{label}"] = np.array([f["fixed_point"][label]["T"] for f in fps])
            h5[f"fixed_points/T_{label}_err"] = np.array([f["fixed_point"][label]["err"] for f in fps])
        for b, rows in summary["rg"]["block_spin"].items():
            h5[f"rg/b{b}/temperature"] = np.array([r["T"] for r in rows])
            h5[f"rg/b{b}/temperature_blocked"] = np.array([r["T_blocked"] for r in rows])
            h5[f"rg/b{b}/temperature_blocked_err"] = np.array([r["err"] for r in rows])
        h5.attrs.update(stage="analyze", summary=json.dumps(summary, allow_nan=True), inputs=inputs, complete=True,
                        tc=summary["tc"])


def analyze(run_dir, comm, backend=None, overrides=(), quiet=False, cfg=None):
    """The analysis stage (rank 0 works, the others wait); returns the path of summary.json.

    Same signature as the other stages; ``backend`` and ``quiet`` are not used here.
    """
    log = get_logger()
    run_dir = Path(run_dir)
    cfg = cfg or load_run_config(run_dir, overrides)
    flow_path = run_dir / "flow.h5"
    if not flow_path.exists():
        raise InputError(f"{flow_path}: missing; run hpcrbm flow first")
    summary_path = run_dir / "summary.json"
    inputs = fingerprint(cfg, ANALYSIS_SECTIONS)
    if summary_path.exists() and is_complete(run_dir / ANALYSIS_FILE, inputs):
        log.info("%s is complete for this config; nothing to do", summary_path)
        return summary_path
    if comm.is_root:
        with h5py.File(run_dir / "samples.h5", "r") as samples, h5py.File(flow_path, "r") as flows:
            T = samples["temperatures"][:]
            c = samples["summary/specific_heat"][:]
            tc = critical_temperature(cfg)
            peaks = [specific_heat_peak(cfg, T, c, iH) for iH in range(len(cfg.sampling.fields))]
            fps = fixed_points(cfg, flows)
            for fp in fps:
                iH = list(cfg.sampling.fields).index(fp["field"])
                fp["tc"] = tc
                fp["specific_heat_peak"] = {"T": peaks[iH][0], "source": peaks[iH][1]}
            exponents = {}
            if math.isfinite(tc) and 0.0 in cfg.sampling.fields:
                iH = list(cfg.sampling.fields).index(0.0)
                m, dm = samples["summary/abs_magnetization"][:, iH], samples["summary/abs_magnetization_err"][:, iH]
                exponents["monte_carlo"] = fit_beta(T, m, dm, tc)
                if cfg.model.kind == "ising":  # the exact (L = inf) curve fitted on the same points
                    exact_m = onsager_magnetization(T, cfg.model.J)
                    exponents["exact_same_points"] = fit_beta(T, exact_m, np.full(len(T), 1e-3), tc)
                kinds = flows["starts/kind"][:].astype(str)
                sel = (kinds == "mc") & (flows["starts/field_index"][:] == iH)
                for nh_key in (k for k in flows["flow"] if k.startswith("nh")):
                    for mode in flows[f"flow/{nh_key}"]:
                        g = flows[f"flow/{nh_key}/{mode}"]
                        exponents[f"reconstruction_{nh_key}_{mode}"] = fit_beta(
                            flows["starts/temperature"][sel], g["abs_magnetization"][sel, 1],
                            g["abs_magnetization_err"][sel, 1], tc)
            rg = rg_flow(cfg, samples)
            summary = {
                "run": cfg.run.name, "model": cfg.model.kind, "dim": cfg.model.dim, "L": cfg.model.L, "q": cfg.model.q,
                "tc": tc, "flows": fps, "exponents": exponents,
                "rg": {"block_spin": {str(b): [{"T": float(t0), "T_blocked": t, "err": dt}
                                              for t0, (t, dt) in zip(T, r)] for b, r in rg.items()},
                       "talk_recursion_fixed_point_K": talk_fixed_point(),
                       "talk_recursion_fixed_point_T": 1 / talk_fixed_point()},
                "validation": validation(cfg, samples),
                "controls": fixed_points(cfg, flows, controls=True), "nn_thermometer": nn_summary(run_dir), "created": now(),
            }
            from .figures import draw_all
            draw_all(run_dir, cfg, samples, flows, summary)
        write_analysis_file(run_dir / ANALYSIS_FILE, summary, inputs)
        with replaced_on_success(summary_path, ".tmp") as tmp:
            tmp.write_text(json.dumps(summary, indent=2, allow_nan=True))
        log.info("wrote %s and %s", summary_path, run_dir / "figures")
    comm.barrier()
    return summary_path
