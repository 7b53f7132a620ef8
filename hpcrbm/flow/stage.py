"""The flow stage: ``hpcrbm flow RUN_DIR`` flows every trained RBM from every start and
measures each step with physics thermometers; writes ``flow.h5``.

Starts (``flow.starts``): "mc" = the first ``flow.samples`` Monte Carlo configurations of every
(T, H) point; "up" and "random" = ``flow.samples`` all-up (state 0) or uniformly random
configurations, one start per field. Start s, chain i has the global chain id
s * flow.samples + i, so the flows do not depend on the rank count (ranks split the starts).

flow.h5: ``/starts/kind`` ("mc", "up", "random"), ``/starts/temperature`` (NaN unless "mc"),
``/starts/field_index``; per RBM and mode ``/flow/{nh{Nh}, control_random, control_extremes}/{mode}/NAME``
(n_starts, steps + 1):
energy, abs_magnetization, binder (+ ``_err``) of the sampled spins; for mean-field flows also
probability_energy, probability_abs_magnetization (+ ``_err``) of the probabilities;
temperature_energy, temperature_magnetization (+ ``_err``): the physics thermometers' readings;
temperature_nn (+ ``_err``), the neural thermometer's mean prediction, and nn_histogram
(n_starts, steps + 1, nT), the counts of its predictions
(energy: Kaufman's exact u(T) of the same L for the Ising model at H = 0, else the Monte Carlo
u(T) of samples.h5 at that field; |m|: the Monte Carlo |m|(T)).
"""
from pathlib import Path

import h5py
import numpy as np

from ..analysis.statistics import point_summary
from ..config import fingerprint, to_toml
from ..errors import InputError
from ..io.hdf5 import read_points, replaced_on_success
from ..io.inspect import is_complete, load_run_config
from ..io.provenance import now, provenance
from ..log import get_logger
from ..montecarlo.grid import Grid
from ..montecarlo.models import make_model
from ..rbm.model import RBMParams, encode
from .flows import flow, probability_observables, spins_from_visible
from .nn_thermometer import MLP, read_temperature
from .thermometers import CurveThermometer

FLOW_FILE = "flow.h5"
STAGE_SECTIONS = ("run.seed", "model", "sampling", "rbm", "flow")
MEASURES = ("energy", "abs_magnetization", "binder")


def starts_table(cfg):
    """List of (kind, iT or -1, iH) in start order."""
    nT, nH = len(cfg.sampling.temperatures), len(cfg.sampling.fields)
    starts = []
    for kind in cfg.flow.starts:
        if kind == "mc":
            starts += [("mc", iT, iH) for iT in range(nT) for iH in range(nH)]
        else:
            starts += [(kind, -1, iH) for iH in range(nH)]
    return starts


def thermometers(cfg, samples_path):
    """Per field index: (energy thermometer, |m| thermometer)."""
    with h5py.File(samples_path, "r") as h5:
        T = h5["temperatures"][:]
        u, m = h5["summary/energy"][:], h5["summary/abs_magnetization"][:]
    out = []
    for iH, H in enumerate(cfg.sampling.fields):
        exact = cfg.model.kind == "ising" and cfg.model.dim == 2 and H == 0 and cfg.model.J == 1.0
        energy = CurveThermometer.kaufman_energy(cfg.model.L) if exact else CurveThermometer.from_curve(T, u[:, iH])
        out.append((energy, CurveThermometer.from_curve(T, m[:, iH], increasing=False)))
    return out


def start_visible(cfg, kind, iT, iH, samples_path, model, start_index):
    """Initial visible vectors (flow.samples, units) of one start."""
    n, q = cfg.flow.samples, cfg.model.q
    if kind == "mc":
        grid = Grid(cfg.sampling.temperatures, cfg.sampling.fields)
        configs = read_points(samples_path, "configs", [iT * len(cfg.sampling.fields) + iH], grid.shape)[0][:n]
    elif kind == "up":
        configs = model.initial_state(cfg.run.seed, 0, n, "up")
    else:
        configs = model.initial_state(cfg.run.seed, (1 << 23) + start_index, n, "random")
    return encode(configs, cfg.rbm.visible, q, np.float64)


def flow_names(mode):
    """Names of the per-step arrays of one flow, in file order."""
    base = list(MEASURES) + (["probability_energy", "probability_abs_magnetization"] if mode == "mean-field" else [])
    base += ["temperature_energy", "temperature_magnetization", "temperature_nn"]
    return sorted(base + [f"{n}_err" for n in base])


def flow_start(cfg, params, model, v0, field, chain_ids, mode, thermo, nn):
    """Observables and thermometer readings of one start's flow: name -> (steps + 1,) array,
    plus "nn_histogram" (steps + 1, nT): counts of the neural thermometer's predictions."""
    shape, N = model.lattice_shape, model.n_sites
    ising = cfg.model.kind == "ising"
    rows = {}
    for step, probs, v in flow(params, v0, cfg.flow.steps, mode, cfg.run.seed, chain_ids):
        spins = spins_from_visible(v, params, shape, ising)
        e, m = model.measure(spins, field)
        stats = point_summary(e.reshape(1, -1), m.reshape(1, -1), N, 1.0)
        values = {name: stats[name][0] for name in MEASURES}
        values.update({f"{name}_err": stats[name][1] for name in MEASURES})
        if mode == "mean-field":  # at step 0 (no probabilities yet) the start's own observables
            pe, pm = probability_observables(probs, params.q, model, shape, field) if probs is not None else (e, m)
            for name, x in (("probability_energy", pe), ("probability_abs_magnetization", np.abs(pm))):
                values[name] = float(np.mean(x))
                values[f"{name}_err"] = float(np.std(x) / np.sqrt(len(x)))
        for label, thermometer, key in (("energy", thermo[0], "energy"), ("magnetization", thermo[1],
                                                                          "abs_magnetization")):
            t, dt, _ = thermometer.read(values[key], values[f"{key}_err"])
            values[f"temperature_{label}"], values[f"temperature_{label}_err"] = float(t), float(dt)
        t, dt, histogram = read_temperature(nn, v, cfg.sampling.temperatures)
        values["temperature_nn"], values["temperature_nn_err"] = t, dt
        rows.setdefault("nn_histogram", []).append(histogram)
        for name, value in values.items():
            rows.setdefault(name, []).append(value)
    return {name: np.asarray(v) for name, v in rows.items()}


def run_flows(run_dir, comm, backend, overrides=(), quiet=False, cfg=None):
    """The flow stage (collective); returns the path of flow.h5. ``cfg`` as for train()."""
    log = get_logger()
    run_dir = Path(run_dir)
    cfg = cfg or load_run_config(run_dir, overrides)
    samples_path, rbm_path, final = run_dir / "samples.h5", run_dir / "rbm.h5", run_dir / FLOW_FILE
    inputs = fingerprint(cfg, STAGE_SECTIONS)
    if is_complete(final, inputs):
        log.info("%s is complete for this config; nothing to do", final)
        return final
    try:
        with h5py.File(rbm_path, "r") as h5:
            if not h5.attrs.get("complete", False):
                raise OSError
            def params(group):
                return RBMParams(*(group[n][...].astype(np.float64) for n in ("W", "b", "c")),
                                 int(group.attrs["q"]))
            stored = {k: params(h5[f"rbm/{k}"]) for k in h5["rbm"]}
            stored.update({f"control_{k}": params(h5[f"controls/{k}"]) for k in h5.get("controls", {})})
    except (OSError, KeyError):
        raise InputError(f"{rbm_path}: missing or incomplete; run hpcrbm train first") from None
    missing = [nh for nh in cfg.rbm.hidden if f"nh{nh}" not in stored]
    if missing:
        raise InputError(f"{rbm_path}: has no RBM for rbm.hidden entries {missing}; rerun hpcrbm train")
    try:
        with h5py.File(run_dir / "thermometer.h5", "r") as h5:
            nn = [MLP(*(h5[f"thermometer/field{iH}/{n}"][...] for n in ("W1", "b1", "W2", "b2")))
                  for iH in range(len(cfg.sampling.fields))]
    except (OSError, KeyError):
        raise InputError(f"{run_dir / 'thermometer.h5'}: missing or incomplete; rerun hpcrbm train") from None
    model = make_model(cfg.model)
    thermo = thermometers(cfg, samples_path)
    starts = starts_table(cfg)
    lo, hi = comm.slice(len(starts))
    modes = ("mean-field", "sample") if cfg.flow.mode == "both" else (cfg.flow.mode,)
    keys = [f"nh{nh}" for nh in cfg.rbm.hidden] + sorted(k for k in stored if k.startswith("control_"))
    per_start = {(key, mode): [] for key in keys for mode in modes}  # this rank's starts, in order
    for s in range(lo, hi):
        kind, iT, iH = starts[s]
        v0 = start_visible(cfg, kind, iT, iH, samples_path, model, s)  # once for every RBM and mode
        ids = s * cfg.flow.samples + np.arange(cfg.flow.samples)
        for (key, mode), local in per_start.items():
            local.append(flow_start(cfg, stored[key], model, v0, cfg.sampling.fields[iH], ids, mode, thermo[iH],
                                    nn[iH]))
    results = {}
    for key in keys:
        for mode in modes:
            local = per_start[(key, mode)]
            names = flow_names(mode)
            stacked = np.array([[r[n] for n in names] for r in local]).reshape(hi - lo, len(names),
                                                                             cfg.flow.steps + 1)
            full = comm.allgather_slices(stacked, len(starts))
            results[(key, mode)] = {n: full[:, i] for i, n in enumerate(names)}
            histograms = np.array([r["nn_histogram"] for r in local], dtype=np.int64).reshape(
                hi - lo, cfg.flow.steps + 1, len(cfg.sampling.temperatures))
            results[(key, mode)]["nn_histogram"] = comm.allgather_slices(histograms, len(starts))
        log.info("flowed %s from %d starts", key, len(starts))
    if comm.is_root:
        with replaced_on_success(final) as tmp, h5py.File(tmp, "w") as h5:
            h5["starts/kind"] = np.array([k for k, _, _ in starts], dtype=h5py.string_dtype())
            h5["starts/temperature"] = np.array([cfg.sampling.temperatures[t] if t >= 0 else np.nan
                                                 for _, t, _ in starts])
            h5["starts/field_index"] = np.array([f for _, _, f in starts])
            h5["fields"] = np.asarray(cfg.sampling.fields, float)
            for (key, mode), arrays in results.items():
                for name, value in arrays.items():
                    h5[f"flow/{key}/{mode}/{name}"] = value
            attrs = provenance(comm, backend, cfg.run.seed, now(), "root")
            attrs.update(stage="flow", config=to_toml(cfg), inputs=inputs, steps=cfg.flow.steps,
                         chains_per_start=cfg.flow.samples, end_time=now(), complete=True)
            h5.attrs.update(attrs)
    comm.barrier()
    log.info("wrote %s", final)
    return final
