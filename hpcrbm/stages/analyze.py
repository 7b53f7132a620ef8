"""The analysis stage: ``hpcrbm analyze RUN_DIR`` -> analysis.h5, summary.json, figures/*.png.

What it computes (docs/results.md discusses the numbers):
- where the flows go: for every (Nh, field, mode) and thermometer (neural, energy, |m|), the
  verdict on the flows from every start at that field (stats/attractors.py): a fixed point (with
  error: spread over starts and the chains' statistical error) only where all starts met and
  stopped moving, else the separate attractors with their starts, or "still moving"; beside Tc
  and the temperature of
  the specific-heat maximum (the exact finite-L maximum where an exact result applies,
  exact/reference.py, else the Monte Carlo maximum at that field);
- the exponent beta from |m| = A (Tc - T)^beta below Tc, for the Monte Carlo data and for the
  one-step reconstructions of the flow (step 1 of every Monte Carlo start);
- validation: the run's Monte Carlo u and c against exact results where they exist, by z-score;
- the block-spin RG flow (b = 2, 3 where L allows): the temperature of majority-rule blocked
  configurations read by the exact energy thermometer of the blocked size (same J), beside the
  talk's recursion K' = (3/8) ln cosh 4K.
The ranks share the independent pieces and the figures (Communicator.share); every rank
writes analysis.h5 through the same parallel writer.
"""
import dataclasses
import functools
import json
import math
from datetime import datetime

import h5py
import numpy as np

from ..analysis.attractors import classify_flows
from ..analysis.reweighting import specific_heat_peak as reweighted_peak
from ..analysis.rg import block_spin, talk_fixed_point
from ..exact.reference import (
    critical_temperature,
    exact_magnetization,
    exact_method,
    exact_observables,
    exact_specific_heat_peak,
)
from ..io import files
from ..io.hdf5 import replaced_on_success
from ..io.provenance import now
from ..montecarlo.models import make_model
from ..protocol.stage import Stage, StageNeeds
from ..thermometers.curve import CurveThermometer


def specific_heat_peak(cfg, samples_path, T, iH):
    """The specific-heat maximum at field index iH: from the run's own Monte Carlo (multi-
    histogram reweighting around the grid maximum, jackknife error; stats/reweighting.py) and
    the exact finite-L maximum where an exact result applies (exact/reference.py), with the
    z-score between them. "T" is the exact value where there is one, else the Monte Carlo one."""
    field = cfg.sampling.fields[iH]
    exact = exact_specific_heat_peak(cfg.model, field, T.min(), T.max())
    mc = reweighted_peak(T, files.read_field_energies(samples_path, iH), cfg.model.L ** cfg.model.dim)
    out = {"monte_carlo": mc, "exact": exact, "exact_source": exact_method(cfg.model, field)}
    if exact is not None:
        out.update(T=exact, source=out["exact_source"])
        out["z"] = (mc["T"] - exact) / mc["err"] if mc and mc["err"] > 0 else None
    elif mc is not None:
        out.update(T=mc["T"], source="monte carlo", z=None)
    else:
        out.update(T=None, source=None, z=None)
    return out


def start_labels(flow_h5):
    """A name per start of flow.h5: "mc T=2.25", "up", "random"."""
    kinds, temperatures = files.start_kinds(flow_h5), flow_h5["starts/temperature"][:]
    return [f"mc T={t:g}" if k == "mc" else str(k) for k, t in zip(kinds, temperatures)]


def verdicts(groups, sel, names, a):
    """{thermometer: stats.attractors.classify_flows verdict} for the starts ``sel`` of the flow
    groups ``groups`` of flow.h5 (one per training seed, all judged together); ``a``: the
    [analysis] settings."""
    multi = len(groups) > 1
    labels = [f"seed {r}: {names[s]}" if multi else names[s] for r in range(len(groups)) for s in sel]
    seeds = np.repeat(np.arange(len(groups)), len(sel))

    def stack(name):
        return np.concatenate([g[name][sel] for g in groups])
    return {label: classify_flows(stack(f"temperature_{label}"), stack(f"temperature_{label}_err"), labels,
                                  z=a.z, resolution=a.resolution, window=a.window or None,
                                  inside=stack(f"temperature_{label}_inside") > 0.5, groups=seeds)
            for label in files.THERMOMETERS}


def end_state(groups, kinds, sel):
    """Where the synthetic starts ("up", "random") among ``sel`` end, per training seed: {kind:
    {observable: {"per_seed", "err" (chains' statistical error per seed), "mean", "spread" (std
    over seeds, ddof 1; None for one seed)}}} for |m|, the energy per site and the three
    thermometers' readings at the last step."""
    out = {}
    for s in sel:
        if kinds[s] == "mc":
            continue
        entry = out.setdefault(str(kinds[s]), {})
        for name in ("abs_magnetization", "energy") + tuple(f"temperature_{t}" for t in files.THERMOMETERS):
            values = [float(g[name][s, -1]) for g in groups]
            entry[name] = {"per_seed": values, "err": [float(g[f"{name}_err"][s, -1]) for g in groups],
                           "mean": float(np.mean(values)),
                           "spread": float(np.std(values, ddof=1)) if len(values) > 1 else None}
    return out


def flow_entries(cfg, flow_h5, families, label_of):
    """One entry per (RBM family, mode, field): ``label_of(family key)`` (e.g. {"nh": 100}),
    field, mode, seeds, fixed_point (:func:`verdicts`) and end_state (:func:`end_state`)."""
    field_index = flow_h5["starts/field_index"][:]
    names, kinds = start_labels(flow_h5), files.start_kinds(flow_h5)
    out = []
    for family, keys in families.items():
        for mode in files.flow_modes(flow_h5, keys[0]):
            groups = [flow_h5[files.flow_group(key, mode)] for key in keys]
            for iH, H in enumerate(cfg.sampling.fields):
                sel = np.flatnonzero(field_index == iH)
                out.append({**label_of(family), "field": float(H), "mode": mode, "seeds": len(keys),
                            "fixed_point": verdicts(groups, sel, names, cfg.analysis),
                            "end_state": end_state(groups, kinds, sel)})
    return out


def fixed_points(cfg, flow_h5, controls=False):
    """List of dicts (nh or control, field, mode, seeds, fixed_point{nn, energy, magnetization},
    end_state): per thermometer the verdict on the flows from every start at that field and of
    every training seed (stats/attractors.py): a fixed point only where they met and stopped,
    else the separate attractors."""
    if controls:
        return flow_entries(cfg, flow_h5, {k: [k] for k in files.flow_keys(flow_h5, True)},
                            lambda k: {"control": k[8:]})
    families = {nh: keys for (nh, _), keys in files.rbm_families(flow_h5).items()}
    return flow_entries(cfg, flow_h5, families, lambda nh: {"nh": nh})


def training_dependence(cfg, flow_h5, final):
    """Where the flows end against training epochs: for every N_h with snapshots (rbm.snapshots),
    an entry per (epoch, field, mode) as in :func:`fixed_points`, the last epoch being the
    trained RBM itself (``final``: fixed_points' entries). Empty without snapshots."""
    if not cfg.rbm.snapshots:
        return []
    out = flow_entries(cfg, flow_h5, files.rbm_families(flow_h5, snapshots=True),
                       lambda family: {"nh": family[0], "epoch": family[1]})
    out += [{**f, "epoch": cfg.rbm.epochs} for f in final]
    return sorted(out, key=lambda e: (e["nh"], e["field"], e["mode"], e["epoch"]))


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


def validation(cfg, samples_h5, z_max=4.0):
    """This run's Monte Carlo averages against exact results, by z-score; ``samples_h5``: the
    summary of samples.h5 (io.files.read_samples_summary)."""
    T, fields = samples_h5["temperatures"], samples_h5["fields"]
    checks = []
    for iH, H in enumerate(fields):
        for iT, t in enumerate(T):
            exact = exact_observables(cfg.model, float(t), float(H))
            if exact is None:
                continue
            for name, value in zip(("energy", "specific_heat"), (exact[0][0], exact[1][0])):
                mean = float(samples_h5[name][iT, iH])
                err = float(samples_h5[f"{name}_err"][iT, iH])
                z = (mean - value) / err if err > 0 else float("nan")
                checks.append({"T": float(t), "H": float(H), "observable": name, "value": mean, "err": err,
                               "exact": float(value), "z": z})
    judged = [c for c in checks if math.isfinite(c["z"])]
    return {"z_max": z_max, "checks": checks, "passed": int(sum(abs(c["z"]) < z_max for c in judged)),
            "failed": int(sum(abs(c["z"]) >= z_max for c in judged)), "not_judged": len(checks) - len(judged),
            "note": "no exact result for this model, size or field" if not checks else
                    "errors of zero (frozen samples) are not judged"}


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
    sel = (kinds == "mc") & (flows["starts/field_index"][:] == iH)
    for nh_key in files.flow_keys(flows):
        for mode in files.flow_modes(flows, nh_key):
            g = flows[files.flow_group(nh_key, mode)]
            out[f"reconstruction_{nh_key}_{mode}"] = fit_beta(
                flows["starts/temperature"][sel], g["abs_magnetization"][sel, 1], g["abs_magnetization_err"][sel, 1],
                tc)
    return out


def protocol(cfg):
    """The settings a reader of summary.json needs to know what was run."""
    s, r, f = cfg.sampling, cfg.rbm, cfg.flow
    return {"seed": cfg.run.seed, "J": cfg.model.J, "temperatures": list(s.temperatures), "fields": list(s.fields),
            "samples": s.samples, "algorithm": s.algorithm,
            "rbm": {"hidden": list(r.hidden), "visible": r.visible, "method": r.method, "k": r.k,
                    "learning_rate": r.learning_rate, "batch_size": r.batch_size, "epochs": r.epochs, "dtype": r.dtype,
                    "snapshots": list(r.snapshots), "seeds": r.seeds, "biases": r.biases, "init_std": r.init_std,
                    "random_sign": r.random_sign, "train_fraction": r.train_fraction},
            "thermometer": {"hidden": list(cfg.thermometer.hidden), "epochs": cfg.thermometer.epochs},
            "flow": {"steps": f.steps, "mode": f.mode, "starts": list(f.starts), "chains_per_start": f.samples},
            "analysis": {"z": cfg.analysis.z, "resolution": cfg.analysis.resolution, "window": cfg.analysis.window}}


def run_time(ctx):
    """Wall seconds of each stage that made this run's inputs (from the files' start_time and
    end_time; a resumed stage counts from its last start) and the ranks that ran it."""
    out = {}
    for stage, name in (("simulate", files.SAMPLES), ("train", files.RBM), ("thermometer", files.THERMOMETER),
                        ("flow", files.FLOW)):
        with h5py.File(ctx.path(name), "r") as h5:
            start, end = (datetime.fromisoformat(str(h5.attrs[k])) for k in ("start_time", "end_time"))
            out[stage] = {"seconds": (end - start).total_seconds(), "ranks": int(h5.attrs["ranks"])}
    return out


BLOCK_SIZES = (2, 3)  # the block-spin RG's b


def summarize(ctx):
    """summary.json's content, computed by all ranks together (independent pieces and figures
    spread over the ranks, Communicator.share), the same on every rank and for any rank count."""
    cfg, run_dir, comm = ctx.cfg, ctx.run_dir, ctx.comm
    mc = files.read_samples_summary(ctx.path(files.SAMPLES))
    fields = list(cfg.sampling.fields)
    with h5py.File(ctx.path(files.SAMPLES), "r") as samples, h5py.File(ctx.path(files.FLOW), "r") as flows:
        T = mc["temperatures"]
        tc = critical_temperature(cfg.model)
        tasks = [functools.partial(specific_heat_peak, cfg, ctx.path(files.SAMPLES), T, iH)
                 for iH in range(len(fields))]
        tasks += [functools.partial(rg_flow, cfg, samples, b) for b in BLOCK_SIZES]
        tasks += [functools.partial(fixed_points, cfg, flows), functools.partial(fixed_points, cfg, flows, True),
                  functools.partial(exponents, cfg, mc, flows, tc), functools.partial(validation, cfg, mc)]
        results = comm.share(tasks)
        peaks, rg = results[:len(fields)], dict(zip(BLOCK_SIZES, results[len(fields):len(fields) + len(BLOCK_SIZES)]))
        fps, controls, exponent_fits, checks = results[len(fields) + len(BLOCK_SIZES):]
        for fp in fps:
            fp["tc"] = critical_temperature(cfg.model, fp["field"])
            fp["specific_heat_peak"] = peaks[fields.index(fp["field"])]
        summary = {
            "run": cfg.run.name, "model": cfg.model.kind, "dim": cfg.model.dim, "L": cfg.model.L, "q": cfg.model.q,
            "tc": tc, "protocol": protocol(cfg), "flows": fps, "training": training_dependence(cfg, flows, fps),
            "exponents": exponent_fits,
            "rg": {"block_spin": {str(b): [{"T": float(t0), "T_blocked": t, "err": dt}
                                          for t0, (t, dt) in zip(T, r)] for b, r in rg.items() if r is not None},
                   "talk_recursion_fixed_point_K": talk_fixed_point(),
                   "talk_recursion_fixed_point_T": 1 / talk_fixed_point()},
            "validation": checks,
            "controls": controls,
            "nn_thermometer": files.read_thermometer_calibration(ctx.path(files.THERMOMETER)), "created": now(),
            "run_time": run_time(ctx),
        }
        summary = json.loads(json.dumps(summary, allow_nan=True))  # as every reader of summary.json sees it
        from ..analysis.figures import draw_all
        draw_all(run_dir, cfg, mc, flows, summary, comm)
    return summary


def compute(ctx):
    """Compute the analysis stage on ``ctx``: summary.json (rank 0's, with its time stamp) and
    figures, then analysis.h5 (collective); summary.json is in place before analysis.h5 is
    complete."""
    comm = ctx.comm
    summary = summarize(ctx)
    text = json.dumps(summary, indent=2, allow_nan=True) if comm.is_root else ""
    if comm.is_root:
        with replaced_on_success(files.summary_path(ctx.run_dir), ".tmp") as tmp:
            tmp.write_text(text)
    summary = json.loads(comm.bcast_text(text))
    with ctx.writing() as f:
        files.write_analysis(f, summary["flows"], summary["rg"]["block_spin"])
        f.set_attrs({"summary": json.dumps(summary, allow_nan=True), "tc": summary["tc"]})


def needs(cfg, ranks, upstream):
    """flow.h5 read whole (and a copy) and the Monte Carlo observables; its outputs are small."""
    s = cfg.sampling
    return StageNeeds("analyze", 2 * upstream["flow"].disk[files.FLOW] + 16 * len(s.temperatures) * len(s.fields)
                      * s.samples, {files.ANALYSIS: 2**20, files.SUMMARY: 2**20, "figures/": 8 * 2**20})


STAGE = Stage("analyze", files.ANALYSIS, sections=("analysis",), reads=("simulate", "train", "thermometer", "flow"),
              compute=compute, required=files.analysis_required, extra_outputs=(files.SUMMARY,),
              needs=needs, summary="analysis stage: fixed points, fits, RG, validation and figures",
              limits="flow.steps or the starts", arithmetic=False)
