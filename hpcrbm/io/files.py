"""The layout of every file of a run, written once: names, datasets, readers and writers.

| file | written by | holds |
|---|---|---|
| samples.h5 | simulate (stages/simulate.py) | /temperatures, /fields, /configs, /observables/*, /summary/* |
| rbm.h5 | train (stages/train.py) | /rbm/nh{Nh}/{W, b, c, history/*}, /controls/{random, extremes}/... |
| thermometer.h5 | thermometer (stages/thermometer.py) | /thermometer/field{iH}/{W1, b1, W2, b2, calibration/*} |
| flow.h5 | flow (stages/flow.py) | /starts/*, /fields, /flow/{nh{Nh}, control_*}/{mode}/NAME |
| analysis.h5 | analyze (stages/analyze.py) | /fixed_points/*, /rg/b{b}/*; summary.json beside it (io/summary.py) |

:data:`LAYOUT` (at the end) describes every dataset of these files and of the stages'
checkpoints; docs/io.md's tables are :func:`layout_markdown` of it (tests/test_files_layout.py).
Every file's root attributes: ``stage``, ``config`` (the resolved TOML), ``inputs`` (the stage's
fingerprint, hpcrbm/protocol/stage.py), ``complete`` and the provenance of io/provenance.py.
Other modules read and write these files through the names and functions here, never by dataset
path (tests/test_files_layout.py walks the package for path literals).
"""
import dataclasses
from pathlib import Path

import h5py
import numpy as np

from ..grid import Grid
from ..stats import SUMMARY_NAMES
from .hdf5 import read_points

SAMPLES, RBM, THERMOMETER, FLOW, ANALYSIS, SUMMARY = (
    "samples.h5", "rbm.h5", "thermometer.h5", "flow.h5", "analysis.h5", "summary.json")

# -- samples.h5 ---------------------------------------------------------------------------
TEMPERATURES, FIELDS = "temperatures", "fields"  # float64 (nT,), (nH,): also in thermometer.h5 (flow.h5: fields)
CONFIGS = "configs"  # int8 (nT, nH, S, *lattice)
OBSERVABLES_GROUP, SUMMARY_GROUP, TEMPERING_GROUP = "observables", "summary", "tempering"
OBSERVABLES = ("energy", "magnetization")  # /observables/NAME float64 (nT, nH, S)
SUMMARY_DATASETS = tuple(n for base in SUMMARY_NAMES for n in (base, f"{base}_err")) + ("tau_int", "blocks")


def observable(name):
    return f"{OBSERVABLES_GROUP}/{name}"


def summary(name):
    """/summary/NAME (nT, nH): NAME in SUMMARY_DATASETS."""
    return f"{SUMMARY_GROUP}/{name}"


def tempering(name):
    """/tempering/NAME: NAME one of montecarlo.tempering.Tempering.arrays() or "acceptance"
    (samples.h5 and the simulate checkpoint; with sampling.tempering only)."""
    return f"{TEMPERING_GROUP}/{name}"


TEMPERING_ACCEPTANCE = tempering("acceptance")  # samples.h5 only


def samples_required(cfg):
    return ([TEMPERATURES, FIELDS, CONFIGS] + [observable(n) for n in OBSERVABLES]
            + [summary(n) for n in SUMMARY_DATASETS])


def read_samples_summary(path):
    """{"temperatures" (nT,), "fields" (nH,), NAME (nT, nH) for NAME in SUMMARY_DATASETS}; files
    of simulate v1 have no ``blocks`` (their errors always used 32)."""
    with h5py.File(path, "r") as h5:
        out = {name: h5[summary(name)][:] for name in SUMMARY_DATASETS if name != "blocks" or summary(name) in h5}
        out.setdefault("blocks", np.full_like(out["tau_int"], 32.0))
        out[TEMPERATURES], out[FIELDS] = h5[TEMPERATURES][:], h5[FIELDS][:]
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


def read_field_configs(path, iH):
    """Every configuration of field ``iH``: int8 (nT, S, *lattice)."""
    with h5py.File(path, "r") as h5:
        return h5[CONFIGS][:, iH]


def read_point_configs(source, iT, iH, n):
    """The first ``n`` configurations of grid point (iT, iH); ``source`` a path or open file."""
    if not isinstance(source, h5py.File):
        with h5py.File(source, "r") as h5:
            return read_point_configs(h5, iT, iH, n)
    return source[CONFIGS][iT, iH, :n]


# -- checkpoints/samples.h5 (simulate) ----------------------------------------------------
# every point's chains: spins int8 (nT, nH, R, *lattice), energy and magnetization float64
# (nT, nH, S), tuning int64 (nT, nH, n_tuning), sweeps int64 (nT, nH); and /tempering/*
CHAIN_STATE = CHAIN_SPINS, CHAIN_ENERGY, CHAIN_MAGNETIZATION, CHAIN_TUNING, CHAIN_SWEEPS = (
    "spins", "energy", "magnetization", "tuning", "sweeps")

# -- rbm.h5 -------------------------------------------------------------------------------
RBM_GROUP, CONTROLS_GROUP, HISTORY, SNAPSHOTS = "rbm", "controls", "history", "snapshots"
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
    return f"{RBM_GROUP}/{key}"


CONTROL_EXTREMES = "control_extremes"  # the RBM trained on the extreme temperatures only (rbm/stage.py)


def control_group(name):
    return f"{CONTROLS_GROUP}/{name}"


def trained_keys(cfg):
    """The rbm_key of every trained RBM of ``cfg`` (no snapshots), by N_h then seed."""
    return [rbm_key(nh, r) for nh in cfg.rbm.hidden for r in range(cfg.rbm.seeds)]


def rbm_required(cfg):
    return [f"{rbm_group(k)}/{x}" for k in trained_keys(cfg) for x in PARAMS] + \
           [f"{rbm_group(k)}/{snapshot_group(e)}/W" for k in trained_keys(cfg) for e in cfg.rbm.snapshots] + \
           [f"{control_group('random')}/{x}" for x in PARAMS]


def snapshot_group(epoch):
    """An RBM's copy at ``epoch`` (rbm.snapshots), below its group: snapshots/epoch{e}."""
    return f"{SNAPSHOTS}/epoch{epoch}"


def snapshot_epoch(name):
    return int(name[len("epoch"):])


def snapshot_dataset(name, param):
    """A parameter of the snapshot group ``name`` ("epoch{e}") below an RBM's group."""
    return f"{SNAPSHOTS}/{name}/{param}"


def history_dataset(name, group=None):
    """A training curve: {group}/history/NAME float64 (epochs,), NAME in epoch,
    reconstruction_error, pseudo_likelihood, log_likelihood (also in rbm_{key}.h5 checkpoints)."""
    return f"{group}/{HISTORY}/{name}" if group else f"{HISTORY}/{name}"


# checkpoints/rbm_{key}.h5 (train): the training state besides history/* and snapshots/*
TRAINING_STATE = PARAMS + ("vW", "vb", "vc", "chains")


def write_rbm(f, group, W, b, c, history, attrs, snapshots=None):
    """One RBM into an open ParallelFile: W, b, c, history/NAME (float64), attributes, and the
    copies of W, b, c kept at earlier epochs (``snapshots``: epoch -> (W, b, c))."""
    for name, value in zip(PARAMS, (W, b, c)):
        f.create_global(f"{group}/{name}", value)
    for name, values in sorted((history or {}).items()):  # one order on every rank (collective creates)
        f.create_global(history_dataset(name, group), np.asarray(values, dtype=np.float64))
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
        for k in h5[RBM_GROUP]:
            g = h5[rbm_group(k)]
            q = int(g.attrs["q"])
            out[k] = params(g, q)
            for name in g.get(SNAPSHOTS, {}):
                out[rbm_key(*parse_rbm_key(k)[:2], snapshot_epoch(name))] = params(g[f"{SNAPSHOTS}/{name}"], q)
        out.update({f"control_{k}": params(h5[control_group(k)], int(h5[control_group(k)].attrs["q"]))
                    for k in h5.get(CONTROLS_GROUP, {})})
    return out


# -- thermometer.h5 -----------------------------------------------------------------------
THERMOMETER_GROUP = "thermometer"
CALIBRATION_MEAN, CALIBRATION_STD = "calibration/predicted_mean", "calibration/predicted_std"  # below a field's group

def mlp_names(layers):
    """The arrays of an MLP with ``layers`` weight matrices, in order: W1, b1, W2, b2, ..."""
    return [f"{x}{i}" for i in range(1, layers + 1) for x in "Wb"]


def thermometer_group(field_index):
    return f"{THERMOMETER_GROUP}/field{field_index}"


def thermometer_required(cfg):
    names = mlp_names(len(cfg.thermometer.hidden) + 1) + [CALIBRATION_MEAN]
    return [TEMPERATURES, FIELDS] + [f"{thermometer_group(i)}/{n}" for i in range(len(cfg.sampling.fields))
                                         for n in names]


def write_thermometers(f, temperatures, fields, entries):
    """``entries`` per field index: (MLP arrays, calibration mean (nT,), std (nT,), accuracy)."""
    f.create_global(TEMPERATURES, np.asarray(temperatures, float))
    f.create_global(FIELDS, np.asarray(fields, float))
    for iH, (arrays, mean, std, accuracy) in enumerate(entries):
        g = thermometer_group(iH)
        for name, value in zip(mlp_names(len(arrays) // 2), arrays):
            f.create_global(f"{g}/{name}", value)
        f.create_global(f"{g}/{CALIBRATION_MEAN}", mean)
        f.create_global(f"{g}/{CALIBRATION_STD}", std)
        f.set_attrs({"accuracy": accuracy, "field": fields[iH]}, g)


def read_thermometer_arrays(path, n_fields):
    """Per field index: the MLP's arrays [W1, b1, W2, b2, ...]."""
    with h5py.File(path, "r") as h5:
        groups = [h5[thermometer_group(i)] for i in range(n_fields)]
        return [[g[n][...] for n in mlp_names(sum(k.startswith("W") for k in g))] for g in groups]


def read_thermometer_calibration(path):
    """Per field: {"field", "accuracy", "calibration": {"T", "predicted_mean", "predicted_std"}}."""
    with h5py.File(path, "r") as h5:
        groups = sorted(h5[THERMOMETER_GROUP], key=lambda k: int(k[5:]))
        return [{"field": float(g.attrs["field"]), "accuracy": float(g.attrs["accuracy"]),
                 "calibration": {"T": h5[TEMPERATURES][:].tolist(),
                                 "predicted_mean": g[CALIBRATION_MEAN][:].tolist(),
                                 "predicted_std": g[CALIBRATION_STD][:].tolist()}}
                for g in (h5[f"{THERMOMETER_GROUP}/{k}"] for k in groups)]


# checkpoints/thermometer_h{iH}.h5 (thermometer), one per field: finished/{array{i}, mean, std}
# (attrs arrays, accuracy) once the field is done; current/{array{i}, m{i}, v{i}} (attrs epoch,
# step, arrays) the MLP in training with its Adam moments
FINISHED, CURRENT = "finished", "current"


def thermometer_checkpoint(field_index):
    """The checkpoint file name of field ``field_index``'s thermometer (in checkpoints/)."""
    return f"thermometer_h{field_index}.h5"


# -- flow.h5 ------------------------------------------------------------------------------
KIND_DTYPE = "S6"  # fixed-length ASCII (parallel HDF5 writes no variable-length strings)
FLOW_GROUP, STARTS_GROUP = "flow", "starts"
START_KIND, START_TEMPERATURE, START_FIELD_INDEX = (f"{STARTS_GROUP}/{n}" for n in ("kind", "temperature",
                                                                                    "field_index"))
DONE = "done"  # checkpoints/flow.h5 (flow): int8 (n_starts,), 1 for every start whose rows are in it


def flow_group(key, mode):
    """/flow/{key}/{mode}: key an :func:`rbm_key` or "control_{name}", mode "mean-field" or "sample"."""
    return f"{FLOW_GROUP}/{key}/{mode}"


def flow_dataset(key, mode, name):
    """/flow/{key}/{mode}/NAME: NAME one of stages.flow.flow_names(mode) or "nn_histogram"."""
    return f"{flow_group(key, mode)}/{name}"


def flow_required(cfg):
    modes = ("mean-field", "sample") if cfg.flow.mode == "both" else (cfg.flow.mode,)
    return [START_KIND, START_TEMPERATURE, START_FIELD_INDEX, FIELDS] + \
           [flow_dataset(k, m, f"temperature_{t}_inside") for k in trained_keys(cfg) for m in modes
            for t in THERMOMETERS]


def write_starts(f, kinds, temperatures, field_indices, fields):
    f.create_global(START_KIND, np.array(kinds, dtype=KIND_DTYPE))
    f.create_global(START_TEMPERATURE, np.asarray(temperatures, float))
    f.create_global(START_FIELD_INDEX, np.asarray(field_indices, np.int64))
    f.create_global(FIELDS, np.asarray(fields, float))


def start_kinds(flows):
    """/starts/kind of an open flow.h5 as a str array."""
    return flows[START_KIND][:].astype(str)


def start_temperatures(flows):
    """/starts/temperature of an open flow.h5 (NaN for the synthetic starts)."""
    return flows[START_TEMPERATURE][:]


def start_field_indices(flows):
    """/starts/field_index of an open flow.h5."""
    return flows[START_FIELD_INDEX][:]


def flow_keys(flows, controls=False):
    """The RBM groups of an open flow.h5: the trained RBMs of training seed 0 by N_h (all seeds:
    :func:`rbm_families`), or the controls by name."""
    if controls:
        return sorted(k for k in flows[FLOW_GROUP] if k.startswith("control_"))
    return [keys[0] for keys in rbm_families(flows).values()]


def rbm_families(flows, snapshots=False):
    """{(N_h, epoch): [keys of its training seeds, in seed order]} of an open flow.h5: the trained
    RBMs (epoch None), or with ``snapshots`` the flowed snapshots."""
    out = {}
    keys = [k for k in flows[FLOW_GROUP] if k.startswith("nh") and ("_epoch" in k) == snapshots]
    for key in sorted(keys, key=lambda k: parse_rbm_key(k)[1]):
        nh, _, epoch = parse_rbm_key(key)
        out.setdefault((nh, epoch), []).append(key)
    return dict(sorted(out.items()))


def flow_modes(flows, key):
    return sorted(flows[f"{FLOW_GROUP}/{key}"])


# -- analysis.h5 --------------------------------------------------------------------------
THERMOMETERS = ("nn", "energy", "magnetization")
FIXED_POINTS_GROUP, RG_GROUP = "fixed_points", "rg"


def fixed_point(name):
    """/fixed_points/NAME (one row per flow entry of summary.json's flows)."""
    return f"{FIXED_POINTS_GROUP}/{name}"


def rg_dataset(b, name):
    """/rg/b{b}/NAME (one row per temperature): temperature, temperature_blocked(_err)."""
    return f"{RG_GROUP}/b{b}/{name}"


def analysis_required(cfg):
    return [fixed_point("nh"), fixed_point("mode")] + [fixed_point(f"T_{t}") for t in THERMOMETERS]


def write_analysis(f, fixed_points, block_spin):
    """Fixed points as a table (T NaN where the verdict is not "fixed point"; the attractors are
    in summary.json) and the block-spin RG readings into an open ParallelFile."""
    f.create_global(fixed_point("nh"), np.array([p["nh"] for p in fixed_points], np.int64))
    f.create_global(fixed_point("field"), np.array([p["field"] for p in fixed_points], float))
    f.create_global(fixed_point("mode"), np.array([p["mode"] for p in fixed_points], dtype="S10"))
    def column(label, key):  # NaN where there is no fixed point
        return np.array([np.nan if p["fixed_point"][label][key] is None else p["fixed_point"][label][key]
                         for p in fixed_points], float)
    for label in THERMOMETERS:
        f.create_global(fixed_point(f"T_{label}"), column(label, "T"))
        f.create_global(fixed_point(f"T_{label}_err"), column(label, "err"))
        f.create_global(fixed_point(f"verdict_{label}"),
                        np.array([p["fixed_point"][label]["verdict"] for p in fixed_points], dtype="S20"))
    for b, rows in block_spin.items():
        f.create_global(rg_dataset(b, "temperature"), np.array([r["T"] for r in rows]))
        f.create_global(rg_dataset(b, "temperature_blocked"), np.array([r["T_blocked"] for r in rows]))
        f.create_global(rg_dataset(b, "temperature_blocked_err"), np.array([r["err"] for r in rows]))


def summary_path(run_dir):
    return Path(run_dir) / SUMMARY


# -- the layout of every file, in one description -----------------------------------------
@dataclasses.dataclass(frozen=True)
class Dataset:
    """One dataset (or family of datasets) of a file: its path below the root, with {placeholders}
    and {a, b} alternatives, its dtype, shape and meaning."""
    path: str
    dtype: str
    shape: str
    meaning: str


_RBM = "rbm/nh{Nh}[_seed{r}]"  # rbm_group(rbm_key(...)); written out so the table reads
_FLOW = "flow/{nh{Nh}[_seed{r}][_epoch{e}], control_random, control_extremes}/{mean-field, sample}"
_TEMPERING = (
    Dataset(TEMPERING_GROUP + "/{attempts, accepted}", "int64", "(nT - 1, nH)",
            "replica exchanges of the pair (T_i, T_i+1) attempted and accepted, after thermalisation"),
    Dataset(tempering("round_trips"), "int64", "(nH,)",
            "walks lowest T -> highest T -> lowest T completed, summed over replicas"),
    Dataset(tempering("walker"), "int64", "(nT, nH, R)",
            "which initial lattice (flat slot index * R + replica) sits at each slot"),
    Dataset(tempering("direction"), "int8", "(nT * nH * R,)",
            "per walker: +1 last at the lowest T, -1 last at the highest, 0 neither yet"),
)
LAYOUT = {
    SAMPLES: (
        Dataset(TEMPERATURES, "float64", "(nT,)", "the grid's temperatures"),
        Dataset(FIELDS, "float64", "(nH,)", "the grid's fields"),
        Dataset(CONFIGS, "int8", "(nT, nH, S, *lattice)",
                "the stored configurations (Ising +-1, Potts and clock states 0..q-1)"),
        Dataset(observable("{" + ", ".join(OBSERVABLES) + "}"), "float64", "(nT, nH, S)",
                "per sample: energy per site (with -H sum s), magnetization (signed; Potts and clock: the "
                "order parameter)"),
        Dataset(summary("{" + ", ".join(SUMMARY_NAMES) + "}[_err]"), "float64", "(nT, nH)",
                "per point: the mean and its jackknife error"),
        Dataset(summary("tau_int"), "float64", "(nT, nH)",
                "integrated autocorrelation time, the larger of the energy's and |m|'s (NaN: too few rounds)"),
        Dataset(summary("blocks"), "float64", "(nT, nH)",
                "jackknife blocks behind the errors: (mean - exact) / error follows Student's t with blocks - 1 "
                "degrees of freedom"),
        Dataset(TEMPERING_ACCEPTANCE, "float64", "(nT - 1, nH)",
                "sampling.tempering only: accepted / attempted exchanges of the pair (T_i, T_i+1)"),
        *(dataclasses.replace(d, meaning="sampling.tempering only: " + d.meaning) for d in _TEMPERING),
    ),
    RBM: (
        Dataset(_RBM + "/{W, b, c}", "rbm.dtype", "(N_h, N_v[, q]), (N_v[, q]), (N_h,)",
                "a trained RBM (_seed{r} for the training seeds r >= 1 of rbm.seeds); group attrs n_hidden, "
                "n_visible, q, log_partition(_err), log_likelihood_method, final_log_likelihood, stopped_by "
                "(\"epochs\", or \"plateau\": rbm.stop's rule ended it), weight_grid and "
                "probability_grid (the training's products were exact on grids 2**-weight_grid, the coarsest "
                "it used, and 2**-probability_grid: docs/training.md)"),
        Dataset(_RBM + "/" + HISTORY + "/{epoch, reconstruction_error, pseudo_likelihood, log_likelihood}",
                "float64", "(epochs recorded,)", "its training curves"),
        Dataset(_RBM + "/" + SNAPSHOTS + "/epoch{e}/{W, b, c}", "as W, b, c", "as W, b, c",
                "its parameters at epoch e (rbm.snapshots)"),
        Dataset(CONTROLS_GROUP + "/{random, extremes}/{W, b, c}", "as W, b, c", "as W, b, c",
                "the control RBMs: random weights of the trained spread, trained on the extreme temperatures; "
                "extremes with history/*"),
    ),
    THERMOMETER: (
        Dataset(TEMPERATURES, "float64", "(nT,)", "the classes' temperatures"),
        Dataset(FIELDS, "float64", "(nH,)", "the fields"),
        Dataset(THERMOMETER_GROUP + "/field{iH}/{W1, b1, W2, b2, ...}", "float64", "(out, in), (out,)",
                "the MLP of field iH; group attrs accuracy, field"),
        *(Dataset(THERMOMETER_GROUP + "/field{iH}/" + name, "float64", "(nT,)", meaning)
          for name, meaning in ((CALIBRATION_MEAN, "mean of the predicted T on held-out samples, per true T"),
                                (CALIBRATION_STD, "their spread"))),
    ),
    FLOW: (
        Dataset(START_KIND, KIND_DTYPE, "(n_starts,)", "mc, up or random"),
        Dataset(START_TEMPERATURE, "float64", "(n_starts,)", "the Monte Carlo start's T (NaN otherwise)"),
        Dataset(START_FIELD_INDEX, "int64", "(n_starts,)", "the start's field index"),
        Dataset(FIELDS, "float64", "(nH,)", "the fields"),
        Dataset(_FLOW + "/NAME", "float64", "(n_starts, steps + 1)",
                "NAME in {energy, abs_magnetization, binder, temperature_{nn, energy, magnetization}}[_err], "
                "temperature_*_inside, and (mean-field) probability_{energy, abs_magnetization}[_err]"),
        Dataset(_FLOW + "/nn_histogram", "int64", "(n_starts, steps + 1, nT)",
                "counts of the neural thermometer's predicted classes"),
    ),
    ANALYSIS: (
        Dataset(fixed_point("{nh, field}"), "int64, float64", "(n_entries,)", "one row per (N_h, field, mode)"),
        Dataset(fixed_point("mode"), "S10", "(n_entries,)", "mean-field or sample"),
        Dataset(fixed_point("T_{nn, energy, magnetization}[_err]"), "float64", "(n_entries,)",
                "the fixed point per thermometer (NaN where the verdict is not fixed point)"),
        Dataset(fixed_point("verdict_{nn, energy, magnetization}"), "S20", "(n_entries,)",
                "the verdict (analysis/attractors.py)"),
        Dataset(RG_GROUP + "/b{b}/{temperature, temperature_blocked, temperature_blocked_err}", "float64", "(nT,)",
                "block-spin RG: T before and after majority-rule blocking by b"),
    ),
    "checkpoints/" + SAMPLES: (
        Dataset(CHAIN_SPINS, "int8", "(nT, nH, R, *lattice)", "every replica's lattice"),
        Dataset("{" + CHAIN_ENERGY + ", " + CHAIN_MAGNETIZATION + "}", "float64", "(nT, nH, S)",
                "the observables so far"),
        Dataset(CHAIN_TUNING, "int64", "(nT, nH, n_tuning)", "the updater's tuning (Wolff's clusters per sweep)"),
        Dataset(CHAIN_SWEEPS, "int64", "(nT, nH)", "each point's sweeps done; root attrs steps_done, position"),
        *_TEMPERING,
    ),
    "checkpoints/rbm_{key}.h5": (
        Dataset("{" + ", ".join(TRAINING_STATE) + "}", "rbm.dtype", "as W, b, c; (batch_size, units)",
                "parameters, velocities, persistent chains; root attrs epoch, done, q (and log Z once done)"),
        Dataset(history_dataset("NAME"), "float64", "(epochs recorded,)", "the training curves so far"),
        Dataset(SNAPSHOTS + "/epoch{e}/{W, b, c}", "as W, b, c", "as W, b, c", "the snapshots so far"),
    ),
    "checkpoints/" + thermometer_checkpoint("{iH}"): (
        Dataset(FINISHED + "/{array{i}, mean, std}", "float64", "MLP arrays, (nT,)",
                "the field's finished MLP and calibration; group attrs arrays, accuracy"),
        Dataset(CURRENT + "/{array{i}, m{i}, v{i}}", "float64", "MLP arrays",
                "the MLP in training and its Adam moments; group attrs epoch, step, arrays"),
    ),
    "checkpoints/" + FLOW: (
        Dataset(_FLOW + "/NAME", "as flow.h5", "as flow.h5", "the rows of the starts done"),
        Dataset(DONE, "int8", "(n_starts,)", "1 for every start done"),
    ),
}


def top_level_names():
    """(groups, datasets): the first path component of every dataset of :data:`LAYOUT` that has
    more than one, and the paths that have only one (braces expanded)."""
    groups, datasets = set(), set()
    for entries in LAYOUT.values():
        for d in entries:
            head = d.path.split("/")[0]
            names = head[1:-1].split(", ") if head.startswith("{") and head.endswith("}") else [head]
            (groups if "/" in d.path else datasets).update(names)
    return groups, datasets


def layout_markdown(name):
    """The table of file ``name`` of :data:`LAYOUT` as docs/io.md shows it."""
    rows = ["| dataset | dtype | shape | meaning |", "|---|---|---|---|"]
    rows += [f"| `/{d.path}` | {d.dtype} | {d.shape} | {d.meaning} |" for d in LAYOUT[name]]
    return "\n".join(rows)
