"""The layout of every file of a run, written once: names, datasets, readers and writers.

| file | written by | holds |
|---|---|---|
| samples.h5 | simulate (montecarlo/stage.py) | /temperatures, /fields, /configs, /observables/*, /summary/* |
| rbm.h5 | train (rbm/stage.py) | /rbm/nh{Nh}/{W, b, c, history/*}, /controls/{random, extremes}/... |
| thermometer.h5 | thermometer (thermometers/stage.py) | /thermometer/field{iH}/{W1, b1, W2, b2, calibration/*} |
| flow.h5 | flow (flow/stage.py) | /starts/*, /fields, /flow/{nh{Nh}, control_*}/{mode}/NAME |
| analysis.h5 | analyze (analysis/stage.py) | /fixed_points/*, /rg/b{b}/*; summary.json beside it |

Every file's root attributes: ``stage``, ``config`` (the resolved TOML), ``inputs`` (the stage's
fingerprint, hpcrbm/stage.py), ``complete`` and the provenance of io/provenance.py.
Other modules read and write these files through the functions here, never by dataset path.
"""
from pathlib import Path

import h5py
import numpy as np

from ..grid import Grid
from ..stats import SUMMARY_NAMES
from .hdf5 import read_points

SAMPLES, RBM, THERMOMETER, FLOW, ANALYSIS, SUMMARY = (
    "samples.h5", "rbm.h5", "thermometer.h5", "flow.h5", "analysis.h5", "summary.json")

# -- samples.h5 ---------------------------------------------------------------------------
CONFIGS = "configs"  # int8 (nT, nH, S, *lattice)
OBSERVABLES = ("energy", "magnetization")  # /observables/NAME float64 (nT, nH, S)
SUMMARY_DATASETS = tuple(n for base in SUMMARY_NAMES for n in (base, f"{base}_err")) + ("tau_int",)


def observable(name):
    return f"observables/{name}"


def summary(name):
    """/summary/NAME (nT, nH): NAME in SUMMARY_DATASETS."""
    return f"summary/{name}"


def samples_required(cfg):
    return (["temperatures", "fields", CONFIGS] + [observable(n) for n in OBSERVABLES]
            + [summary(n) for n in SUMMARY_DATASETS])


def read_samples_summary(path):
    """{"temperatures" (nT,), "fields" (nH,), NAME (nT, nH) for NAME in SUMMARY_DATASETS}."""
    with h5py.File(path, "r") as h5:
        out = {name: h5[summary(name)][:] for name in SUMMARY_DATASETS}
        out["temperatures"], out["fields"] = h5["temperatures"][:], h5["fields"][:]
    return out


def read_field_energies(path, iH):
    """Energies per site of every stored sample at field index iH, (nT, rounds, replicas)
    (sample j = round * replicas + replica, root attribute ``replicas``)."""
    with h5py.File(path, "r") as h5:
        e = h5[observable("energy")][:, iH, :]
        replicas = int(h5.attrs["replicas"])
    return e.reshape(e.shape[0], -1, replicas)


def read_rank_configs(path, cfg, comm):
    """This rank's configurations: those of its grid slice, int8 (n_points * S, *lattice), with
    the global index of the first one and the global count (sample i = point * S + j)."""
    grid = Grid(cfg.sampling.temperatures, cfg.sampling.fields)
    lo, hi = comm.slice(grid.size)
    configs = read_points(path, CONFIGS, list(range(lo, hi)), grid.shape)
    S = cfg.sampling.samples
    configs = configs.reshape((-1,) + configs.shape[2:]) if len(configs) else \
        np.empty((0,) + (cfg.model.L,) * cfg.model.dim, np.int8)
    return configs, lo * S, grid.size * S


def read_point_configs(source, iT, iH, n):
    """The first ``n`` configurations of grid point (iT, iH); ``source`` a path or open file."""
    if not isinstance(source, h5py.File):
        with h5py.File(source, "r") as h5:
            return read_point_configs(h5, iT, iH, n)
    return source[CONFIGS][iT, iH, :n]


# -- rbm.h5 -------------------------------------------------------------------------------
PARAMS = ("W", "b", "c")


def rbm_key(n_hidden, seed=0, epoch=None):
    """The name of one RBM: "nh{Nh}", with "_seed{r}" for the training seeds r >= 1 (rbm.seeds)
    and "_epoch{e}" for its copy kept at epoch e (rbm.snapshots)."""
    return f"nh{n_hidden}" + (f"_seed{seed}" if seed else "") + (f"_epoch{epoch}" if epoch is not None else "")


def parse_rbm_key(key):
    """(Nh, training seed, epoch or None) of an :func:`rbm_key`."""
    nh, seed, epoch = key[2:], 0, None
    if "_epoch" in nh:
        nh, epoch = nh.split("_epoch")
        epoch = int(epoch)
    if "_seed" in nh:
        nh, seed = nh.split("_seed")
    return int(nh), int(seed), epoch


def rbm_group(key):
    """The group of a trained RBM in rbm.h5: rbm/{rbm_key}."""
    return f"rbm/{key}"


CONTROL_EXTREMES = "control_extremes"  # the RBM trained on the extreme temperatures only (rbm/stage.py)


def control_group(name):
    return f"controls/{name}"


def trained_keys(cfg):
    """The rbm_key of every trained RBM of ``cfg`` (no snapshots), by N_h then seed."""
    return [rbm_key(nh, r) for nh in cfg.rbm.hidden for r in range(cfg.rbm.seeds)]


def rbm_required(cfg):
    return [f"{rbm_group(k)}/{x}" for k in trained_keys(cfg) for x in PARAMS] + \
           [f"{rbm_group(k)}/{snapshot_group(e)}/W" for k in trained_keys(cfg) for e in cfg.rbm.snapshots] + \
           [f"{control_group('random')}/{x}" for x in PARAMS]


def snapshot_group(epoch):
    """An RBM's copy at ``epoch`` (rbm.snapshots), below its group: snapshots/epoch{e}."""
    return f"snapshots/epoch{epoch}"


def snapshot_epoch(name):
    return int(name[len("epoch"):])


def write_rbm(f, group, W, b, c, history, attrs, snapshots=None):
    """One RBM into an open ParallelFile: W, b, c, history/NAME (float64), attributes, and the
    copies of W, b, c kept at earlier epochs (``snapshots``: epoch -> (W, b, c))."""
    for name, value in zip(PARAMS, (W, b, c)):
        f.create_global(f"{group}/{name}", value)
    for name, values in sorted((history or {}).items()):  # one order on every rank (collective creates)
        f.create_global(f"{group}/history/{name}", np.asarray(values, dtype=np.float64))
    for epoch, arrays in sorted((snapshots or {}).items()):
        for name, value in zip(PARAMS, arrays):
            f.create_global(f"{group}/{snapshot_group(epoch)}/{name}", value)
    f.set_attrs(attrs, group)


def read_rbms(path):
    """{key: (W, b, c, q)}, W, b, c as stored; keys :func:`rbm_key` (snapshots included) and
    "control_{name}"."""
    with h5py.File(path, "r") as h5:
        def params(g, q):
            return tuple(g[n][...] for n in PARAMS) + (q,)
        out = {}
        for k in h5["rbm"]:
            g = h5[rbm_group(k)]
            q = int(g.attrs["q"])
            out[k] = params(g, q)
            for name in g.get("snapshots", {}):
                out[rbm_key(*parse_rbm_key(k)[:2], snapshot_epoch(name))] = params(g[f"snapshots/{name}"], q)
        out.update({f"control_{k}": params(h5[control_group(k)], int(h5[control_group(k)].attrs["q"]))
                    for k in h5.get("controls", {})})
    return out


# -- thermometer.h5 -----------------------------------------------------------------------
def mlp_names(layers):
    """The arrays of an MLP with ``layers`` weight matrices, in order: W1, b1, W2, b2, ..."""
    return [f"{x}{i}" for i in range(1, layers + 1) for x in "Wb"]


def thermometer_group(field_index):
    return f"thermometer/field{field_index}"


def thermometer_required(cfg):
    names = mlp_names(len(cfg.thermometer.hidden) + 1) + ["calibration/predicted_mean"]
    return ["temperatures", "fields"] + [f"{thermometer_group(i)}/{n}" for i in range(len(cfg.sampling.fields))
                                         for n in names]


def write_thermometers(f, temperatures, fields, entries):
    """``entries`` per field index: (MLP arrays, calibration mean (nT,), std (nT,), accuracy)."""
    f.create_global("temperatures", np.asarray(temperatures, float))
    f.create_global("fields", np.asarray(fields, float))
    for iH, (arrays, mean, std, accuracy) in enumerate(entries):
        g = thermometer_group(iH)
        for name, value in zip(mlp_names(len(arrays) // 2), arrays):
            f.create_global(f"{g}/{name}", value)
        f.create_global(f"{g}/calibration/predicted_mean", mean)
        f.create_global(f"{g}/calibration/predicted_std", std)
        f.set_attrs({"accuracy": accuracy, "field": fields[iH]}, g)


def read_thermometer_arrays(path, n_fields):
    """Per field index: the MLP's arrays [W1, b1, W2, b2, ...]."""
    with h5py.File(path, "r") as h5:
        groups = [h5[thermometer_group(i)] for i in range(n_fields)]
        return [[g[n][...] for n in mlp_names(sum(k.startswith("W") for k in g))] for g in groups]


def read_thermometer_calibration(path):
    """Per field: {"field", "accuracy", "calibration": {"T", "predicted_mean", "predicted_std"}}."""
    with h5py.File(path, "r") as h5:
        groups = sorted(h5["thermometer"], key=lambda k: int(k[5:]))
        return [{"field": float(g.attrs["field"]), "accuracy": float(g.attrs["accuracy"]),
                 "calibration": {"T": h5["temperatures"][:].tolist(),
                                 "predicted_mean": g["calibration/predicted_mean"][:].tolist(),
                                 "predicted_std": g["calibration/predicted_std"][:].tolist()}}
                for g in (h5[f"thermometer/{k}"] for k in groups)]


# -- flow.h5 ------------------------------------------------------------------------------
KIND_DTYPE = "S6"  # fixed-length ASCII (parallel HDF5 writes no variable-length strings)


def flow_group(key, mode):
    """/flow/{key}/{mode}: key an :func:`rbm_key` or "control_{name}", mode "mean-field" or "sample"."""
    return f"flow/{key}/{mode}"


def flow_required(cfg):
    modes = ("mean-field", "sample") if cfg.flow.mode == "both" else (cfg.flow.mode,)
    return ["starts/kind", "starts/temperature", "starts/field_index", "fields"] + \
           [f"{flow_group(k, m)}/temperature_{t}_inside" for k in trained_keys(cfg) for m in modes
            for t in THERMOMETERS]


def write_starts(f, kinds, temperatures, field_indices, fields):
    f.create_global("starts/kind", np.array(kinds, dtype=KIND_DTYPE))
    f.create_global("starts/temperature", np.asarray(temperatures, float))
    f.create_global("starts/field_index", np.asarray(field_indices, np.int64))
    f.create_global("fields", np.asarray(fields, float))


def start_kinds(flows):
    """/starts/kind of an open flow.h5 as a str array."""
    return flows["starts/kind"][:].astype(str)


def flow_keys(flows, controls=False):
    """The RBM groups of an open flow.h5: the trained RBMs of training seed 0 by N_h (all seeds:
    :func:`rbm_families`), or the controls by name."""
    if controls:
        return sorted(k for k in flows["flow"] if k.startswith("control_"))
    return [keys[0] for keys in rbm_families(flows).values()]


def rbm_families(flows, snapshots=False):
    """{(N_h, epoch): [keys of its training seeds, in seed order]} of an open flow.h5: the trained
    RBMs (epoch None), or with ``snapshots`` the flowed snapshots."""
    out = {}
    keys = [k for k in flows["flow"] if k.startswith("nh") and ("_epoch" in k) == snapshots]
    for key in sorted(keys, key=lambda k: parse_rbm_key(k)[1]):
        nh, _, epoch = parse_rbm_key(key)
        out.setdefault((nh, epoch), []).append(key)
    return dict(sorted(out.items()))


def flow_modes(flows, key):
    return sorted(flows[f"flow/{key}"])


# -- analysis.h5 --------------------------------------------------------------------------
THERMOMETERS = ("nn", "energy", "magnetization")


def analysis_required(cfg):
    return ["fixed_points/nh", "fixed_points/mode"] + [f"fixed_points/T_{t}" for t in THERMOMETERS]


def write_analysis(f, fixed_points, block_spin):
    """Fixed points as a table (T NaN where the verdict is not "fixed point"; the attractors are
    in summary.json) and the block-spin RG readings into an open ParallelFile."""
    f.create_global("fixed_points/nh", np.array([p["nh"] for p in fixed_points], np.int64))
    f.create_global("fixed_points/field", np.array([p["field"] for p in fixed_points], float))
    f.create_global("fixed_points/mode", np.array([p["mode"] for p in fixed_points], dtype="S10"))
    def column(label, key):  # NaN where there is no fixed point
        return np.array([np.nan if p["fixed_point"][label][key] is None else p["fixed_point"][label][key]
                         for p in fixed_points], float)
    for label in THERMOMETERS:
        f.create_global(f"fixed_points/T_{label}", column(label, "T"))
        f.create_global(f"fixed_points/T_{label}_err", column(label, "err"))
        f.create_global(f"fixed_points/verdict_{label}",
                        np.array([p["fixed_point"][label]["verdict"] for p in fixed_points], dtype="S20"))
    for b, rows in block_spin.items():
        f.create_global(f"rg/b{b}/temperature", np.array([r["T"] for r in rows]))
        f.create_global(f"rg/b{b}/temperature_blocked", np.array([r["T_blocked"] for r in rows]))
        f.create_global(f"rg/b{b}/temperature_blocked_err", np.array([r["err"] for r in rows]))


def summary_path(run_dir):
    return Path(run_dir) / SUMMARY
