"""The analysis stage: ``hpcrbm analyze RUN_DIR`` -> analysis.h5, summary.json, figures/*.png.

The stage gathers, shares over the ranks and writes; the computations are in hpcrbm/analysis/
(fixed_points.py, observables.py, exponents.py, rg.py, figures.py), summary.json's type in
io/summary.py. What it computes (docs/results.md discusses the numbers):
- where the flows go: for every (Nh, field, mode) and thermometer (neural, energy, |m|), the
  verdict on the flows from every start at that field (analysis/attractors.py): a fixed point (with
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
import functools
import json
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np

from ..analysis.exponents import exponents
from ..analysis.figures import FIGURE_STAMP, FIGURES, draw_all
from ..analysis.fixed_points import fixed_points, training_dependence
from ..analysis.observables import specific_heat_peak, validation
from ..analysis.rg import BLOCK_SIZES, rg_flow, talk_fixed_point
from ..analysis.training import training_record
from ..exact.reference import critical_temperature
from ..io import files
from ..io.hdf5 import replaced_on_success
from ..io.png import png_text
from ..io.provenance import now
from ..io.summary import Summary
from ..protocol.stage import Stage, StageNeeds, TimeEstimate, digest, measure


def protocol(cfg):
    """The settings a reader of summary.json needs to know what was run."""
    s, r, f = cfg.sampling, cfg.rbm, cfg.flow
    return {"seed": cfg.run.seed, "J": cfg.model.J, "temperatures": list(s.temperatures), "fields": list(s.fields),
            "samples": s.samples, "algorithm": s.algorithm,
            "rbm": {"hidden": list(r.hidden), "visible": r.visible, "method": r.method, "k": r.k,
                    "learning_rate": r.learning_rate, "batch_size": r.batch_size, "epochs": r.epochs, "dtype": r.dtype,
                    "stop": r.stop, "patience": r.patience, "tolerance": r.tolerance,
                    "snapshots": list(r.snapshots), "seeds": r.seeds, "biases": r.biases, "init_std": r.init_std,
                    "random_sign": r.random_sign, "train_fraction": r.train_fraction},
            "thermometer": {"hidden": list(cfg.thermometer.hidden), "epochs": cfg.thermometer.epochs},
            "flow": {"steps": f.steps, "mode": f.mode, "starts": list(f.starts), "chains_per_start": f.samples},
            "analysis": {"z": cfg.analysis.z, "resolution": cfg.analysis.resolution, "window": cfg.analysis.window}}


def run_time(ctx):
    """Wall seconds of each stage that made this run's inputs and the ranks that ran it: the
    file's ``seconds`` (every segment of a resumed stage, as far as its checkpoints kept them),
    or for files written before it existed, end_time - start_time (the last segment)."""
    out = {}
    for stage, name in (("simulate", files.SAMPLES), ("train", files.RBM), ("thermometer", files.THERMOMETER),
                        ("flow", files.FLOW)):
        with h5py.File(ctx.path(name), "r") as h5:
            start, end = (datetime.fromisoformat(str(h5.attrs[k])) for k in ("start_time", "end_time"))
            seconds = float(h5.attrs["seconds"]) if "seconds" in h5.attrs else (end - start).total_seconds()
            out[stage] = {"seconds": seconds, "ranks": int(h5.attrs["ranks"])}
    return out


def summarize(ctx):
    """The run's summary (io/summary.py) and the names of the figures drawn, computed by all ranks
    together (independent pieces and figures spread over the ranks, Communicator.share), the same
    on every rank and for any rank count."""
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
        progress = ctx.progress(len(comm.mine(len(tasks))) + len(comm.mine(len(FIGURES))), 0,
                                "analyze (exact references, fixed points, fits, RG, validation; figures)", "task")
        results = comm.share(tasks, progress)
        peaks, rg = results[:len(fields)], dict(zip(BLOCK_SIZES, results[len(fields):len(fields) + len(BLOCK_SIZES)]))
        fps, controls, exponent_fits, checks = results[len(fields) + len(BLOCK_SIZES):]
        for fp in fps:
            fp["tc"] = critical_temperature(cfg.model, fp["field"])
            fp["specific_heat_peak"] = peaks[fields.index(fp["field"])]
        summary = Summary(
            run=cfg.run.name, model=cfg.model.kind, dim=cfg.model.dim, L=cfg.model.L, q=cfg.model.q,
            tc=tc, protocol=protocol(cfg), flows=fps, training=training_dependence(cfg, flows, fps),
            exponents=exponent_fits,
            rg={"block_spin": {str(b): [{"T": float(t0), "T_blocked": t, "err": dt}
                                        for t0, (t, dt) in zip(T, r)] for b, r in rg.items() if r is not None},
                "talk_recursion_fixed_point_K": talk_fixed_point(),
                "talk_recursion_fixed_point_T": 1 / talk_fixed_point()},
            validation=checks,
            controls=controls,
            nn_thermometer=files.read_thermometer_calibration(ctx.path(files.THERMOMETER)), created=now(),
            run_time=run_time(ctx), rbms=training_record(cfg, ctx.path(files.RBM)),
        )
        summary = Summary.from_json(summary.to_json())  # as every reader of summary.json sees it
        figures = draw_all(run_dir, cfg, mc, flows, summary, comm, digest(ctx.inputs), progress)
        progress.close()
    return summary, [p.stem for p in figures]


def compute(ctx):
    """Compute the analysis stage on ``ctx``: summary.json (rank 0's, with its time stamp) and
    figures, then analysis.h5 (collective); summary.json is in place before analysis.h5 is
    complete."""
    comm = ctx.comm
    summary, figures = summarize(ctx)
    summary.run_time["analyze"] = {"seconds": round(comm.bcast_number(ctx.stage_seconds()), 1), "ranks": comm.size}
    text = summary.to_json() if comm.is_root else ""
    if comm.is_root:
        with replaced_on_success(files.summary_path(ctx.run_dir), ".tmp") as tmp:
            tmp.write_text(text)
    summary = Summary.from_json(comm.bcast_text(text), files.summary_path(ctx.run_dir))
    with ctx.writing() as f:
        files.write_analysis(f, summary.flows, summary.rg["block_spin"])
        f.set_attrs({"summary": summary.to_json(indent=None), "tc": summary.tc, "figures": json.dumps(figures)})


def outputs_state(run_dir, inputs):
    """Why summary.json or the figures beside a current analysis.h5 are not its own, or None:
    summary.json must hold the summary stored in analysis.h5 (attribute ``summary``), and every
    figure analysis.h5 lists (attribute ``figures``) must be an undamaged PNG carrying the digest
    of ``inputs``, the stage's fingerprint. A copied, garbled, deleted or stale output is rebuilt."""
    run_dir = Path(run_dir)
    try:
        with h5py.File(run_dir / files.ANALYSIS, "r") as h5:
            stored, figures = json.loads(h5.attrs["summary"]), json.loads(h5.attrs["figures"])
    except (OSError, KeyError, ValueError):
        return f"{files.ANALYSIS} lists no figures (older)"
    try:
        if json.loads(files.summary_path(run_dir).read_text()) != stored:
            return f"has a {files.SUMMARY} beside it that is not its own"
    except (OSError, ValueError):
        return f"has no readable {files.SUMMARY} beside it"
    for name in figures:
        if (png_text(run_dir / "figures" / f"{name}.png") or {}).get(FIGURE_STAMP) != digest(inputs):
            return f"has figures/{name}.png missing, damaged or drawn from another analysis"
    return None


def needs(cfg, ranks, upstream):
    """flow.h5 read whole (and a copy) and the Monte Carlo observables; its outputs are small."""
    s = cfg.sampling
    return StageNeeds("analyze", 2 * upstream["flow"].disk[files.FLOW] + 16 * len(s.temperatures) * len(s.fields)
                      * s.samples, {files.ANALYSIS: 2**20, files.SUMMARY: 2**20, "figures/": 8 * 2**20})


def _figure_seconds():
    """One figure of the size of the run's largest (2 x 6 panels of 24 lines), drawn and saved as
    PNG the way analysis/figures.py saves them, timed."""
    import io

    from ..analysis.figures import pyplot

    def draw():
        plt = pyplot()
        fig, axes = plt.subplots(2, 6, figsize=(19, 6))
        for ax in axes.ravel():
            for row in np.random.default_rng(0).random((24, 21)):
                ax.plot(row, lw=1)
        fig.tight_layout()
        fig.savefig(io.BytesIO(), dpi=110)
        plt.close(fig)
    return measure(draw, repeats=1)[0]


def estimate(cfg, ranks):
    """The exact references in a field (transfer matrix: about nT + 125 ln Z evaluations of 9
    each per field, one evaluation timed) and the figures (one timed); the rest takes about a
    second."""
    from ..exact.reference import exact_method
    from ..exact.torus_field import torus_log_partition
    s, m = cfg.sampling, cfg.model
    tm_fields = [H for H in s.fields if H != 0 and m.dim == 2 and exact_method(m, H) == "transfer matrix"]
    evaluation, compile_seconds = (measure(lambda: torus_log_partition(0.4 + np.random.random(), 0.3, m.L, m.J),
                                           repeats=2) if tm_fields else (0.0, 0.0))
    evaluations = len(tm_fields) * (len(s.temperatures) + 125) * 9
    figure = _figure_seconds()
    figures = -(-len(FIGURES) // ranks) * figure / 2  # the run's figures average about half the largest's time
    seconds = -(-len(tm_fields) // ranks) * (len(s.temperatures) + 125) * 9 * evaluation + figures + 1.0
    return TimeEstimate(seconds, compile_seconds, f"{evaluations} transfer-matrix ln Z at {evaluation * 1e3:.3g} ms, "
                        f"{len(FIGURES)} figures (the largest: {figure:.2g} s)")


STAGE = Stage("analyze", files.ANALYSIS, sections=("analysis",), reads=("simulate", "train", "thermometer", "flow"),
              compute=compute, required=files.analysis_required, extra_outputs=(files.SUMMARY, "figures/"),
              outputs_state=outputs_state, estimate=estimate, needs=needs,
              summary="analysis stage: fixed points, fits, RG, validation and figures",
              limits="flow.steps or the starts", arithmetic=False, version=3)
