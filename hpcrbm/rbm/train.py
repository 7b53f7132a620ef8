"""The RBM stage: ``hpcrbm train RUN_DIR`` trains one RBM per Nh in ``rbm.hidden`` on every
configuration of samples.h5 (all (T, H) points together; the RBM is never told T or H).

Output ``rbm.h5``: ``/rbm/nh{Nh}/`` with W, b, c and ``history/`` (epoch,
reconstruction_error, pseudo_likelihood, log_likelihood: exact when Nh <= 20, else NaN per
epoch and an AIS estimate at the end, attributes log_likelihood_method and log_partition);
``/controls/random`` and ``/controls/extremes`` (see :func:`train_controls`). Also writes
``thermometer.h5`` (the neural thermometer).
Checkpoints ``checkpoints/rbm_nh{Nh}.h5`` (written by rank 0: every rank holds the same
weights) make a killed training resume with identical results.
"""
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from ..config import fingerprint, to_toml
from ..errors import InputError
from ..io.hdf5 import read_points, replaced_on_success
from ..io.inspect import is_complete, load_run_config
from ..io.provenance import now, provenance
from ..log import get_logger
from ..montecarlo.grid import Grid
from ..rng.streams import Purpose
from .likelihood import MAX_EXACT_HIDDEN, ais_log_partition, exact_log_partition
from .model import RBMParams, encode
from .training import Trainer, TrainingSettings, TrainingState

RBM_FILE = "rbm.h5"
THERMOMETER_FILE = "thermometer.h5"
STAGE_SECTIONS = ("run.seed", "model", "sampling", "rbm", "thermometer")


def settings_for(cfg, n_hidden):
    r = cfg.rbm
    return TrainingSettings(n_hidden=n_hidden, q=cfg.model.q if r.visible == "categorical" else 0,
                            method=r.method, k=r.k, learning_rate=r.learning_rate, batch_size=r.batch_size,
                            momentum=r.momentum, weight_decay=r.weight_decay, dtype=r.dtype, seed=cfg.run.seed)


def load_visible_data(samples, cfg, comm):
    """This rank's visible vectors (its grid slice, all samples) and its first global index."""
    grid = Grid(cfg.sampling.temperatures, cfg.sampling.fields)
    lo, hi = comm.slice(grid.size)
    configs = read_points(samples, "configs", list(range(lo, hi)), grid.shape)
    S = cfg.sampling.samples
    configs = configs.reshape((-1,) + configs.shape[2:]) if len(configs) else \
        np.empty((0,) + (cfg.model.L,) * cfg.model.dim, np.int8)
    data = encode(configs, cfg.rbm.visible, cfg.model.q, np.dtype(cfg.rbm.dtype))
    return data, lo * S, grid.size * S


def _save_checkpoint(path, state, inputs, done):
    with replaced_on_success(path, ".tmp") as tmp, h5py.File(tmp, "w") as h5:
        p = state.params
        for name, value in (("W", p.W), ("b", p.b), ("c", p.c), ("vW", state.velocity[0]),
                            ("vb", state.velocity[1]), ("vc", state.velocity[2]), ("chains", state.chains)):
            h5[name] = value
        for name, values in state.history.items():
            h5[f"history/{name}"] = np.asarray(values, dtype=np.float64)
        h5.attrs.update(inputs=inputs, epoch=state.epoch, done=done, q=p.q)


def _load_checkpoint(path, inputs):
    """The TrainingState saved in ``path`` for the same inputs, or None."""
    try:
        with h5py.File(path, "r") as h5:
            if h5.attrs.get("inputs") != inputs:
                return None
            a = {name: h5[name][...] for name in ("W", "b", "c", "vW", "vb", "vc", "chains")}
            history = {name: list(h5[f"history/{name}"][...]) for name in h5["history"]}
            state = TrainingState(RBMParams(a["W"], a["b"], a["c"], int(h5.attrs["q"])), [a["vW"], a["vb"], a["vc"]],
                                  a["chains"], int(h5.attrs["epoch"]), history)
            return state
    except (OSError, KeyError):
        return None


def train_one(cfg, n_hidden, data, first, n_total, comm, checkpoint, inputs, quiet):
    """Train (or resume) the RBM with ``n_hidden`` hidden units; returns (state, log Z info)."""
    log = get_logger()
    trainer = Trainer(settings_for(cfg, n_hidden), data, first, n_total, comm,
                      cfg.model.L ** cfg.model.dim)
    state = _load_checkpoint(checkpoint, inputs)
    if comm.all_true(state is not None):
        log.info("Nh=%d: resuming at epoch %d", n_hidden, state.epoch)
    else:
        state = trainer.initial_state()
    show = comm.is_root and not quiet and sys.stderr.isatty()
    from tqdm import tqdm
    bar = tqdm(total=cfg.rbm.epochs, initial=state.epoch, disable=not show, desc=f"train Nh={n_hidden}", unit="epoch")
    last = time.monotonic()
    exact = n_hidden <= MAX_EXACT_HIDDEN
    free_energy = log_z = None  # of the current parameters, once computed
    while state.epoch < cfg.rbm.epochs:
        trainer.epoch(state)
        rec, pl = trainer.reconstruction_and_pseudo_likelihood(state.params, state.epoch)
        ll = float("nan")
        if exact:
            free_energy, log_z = trainer.mean_free_energy(state.params), exact_log_partition(state.params)
            ll = free_energy - log_z
        for name, value in (("epoch", state.epoch), ("reconstruction_error", rec), ("pseudo_likelihood", pl),
                            ("log_likelihood", ll)):
            state.history[name].append(value)
        bar.update(1)
        due = comm.bcast_number(time.monotonic() - last >= cfg.run.checkpoint_interval)
        if due and state.epoch < cfg.rbm.epochs and comm.is_root:
            _save_checkpoint(checkpoint, state, inputs, False)
        if due:
            last = time.monotonic()
            comm.barrier()
    bar.close()
    if exact:
        if log_z is None:  # resumed after the last epoch: the loop did not run
            free_energy, log_z = trainer.mean_free_energy(state.params), exact_log_partition(state.params)
        log_z_err, method = 0.0, "exact"
    else:
        base = np.log(np.clip(comm.allreduce_sum(data.sum(0, dtype=np.float64)) / n_total, 1e-3, 1 - 1e-3))
        if not cfg.rbm.visible == "categorical":
            base = base - np.log1p(-np.exp(base))
        log_z, log_z_err = (ais_log_partition(state.params, base, cfg.run.seed, cfg.rbm.ais_chains, cfg.rbm.ais_steps)
                            if comm.is_root else (0.0, 0.0))
        log_z, log_z_err, method = comm.bcast_number(log_z), comm.bcast_number(log_z_err), "ais"
        free_energy = trainer.mean_free_energy(state.params)
    final_ll = free_energy - log_z
    if comm.is_root:
        _save_checkpoint(checkpoint, state, inputs, True)
    comm.barrier()
    return state, {"log_partition": log_z, "log_partition_err": log_z_err, "log_likelihood_method": method,
                   "final_log_likelihood": final_ll}


def train_thermometers(cfg, data, comm):
    """One neural thermometer per field, trained data-parallel; returns a list of
    (MLP, calibration mean (nT,), calibration std (nT,), held-out accuracy)."""
    from ..flow.nn_thermometer import calibration, train_classifier
    grid = Grid(cfg.sampling.temperatures, cfg.sampling.fields)
    nT, nH = grid.shape
    S = cfg.sampling.samples
    n_train = max(1, int(round((1 - cfg.thermometer.holdout) * S)))
    lo, hi = comm.slice(grid.size)
    out = []
    for iH in range(nH):
        X_train, y_train, rows, X_test, y_test = [], [], [], [], []
        for p in range(lo, hi):
            iT, h = grid.index(p)
            if h != iH:
                continue
            block = data[(p - lo) * S:(p - lo + 1) * S].astype(np.float64)
            X_train.append(block[:n_train])
            X_test.append(block[n_train:])
            y_train += [iT] * n_train
            y_test += [iT] * (S - n_train)
            rows.append(iT * n_train + np.arange(n_train))
        width = data.shape[1]
        stack = lambda parts: np.concatenate(parts) if parts else np.empty((0, width))  # noqa: E731
        rows = np.concatenate(rows) if rows else np.empty(0, np.int64)
        mlp = train_classifier(stack(X_train), np.array(y_train, np.int64), rows, nT * n_train, nT,
                               cfg.thermometer, cfg.run.seed, iH, comm)
        mean, std, accuracy = calibration(mlp, stack(X_test), np.array(y_test, np.int64), grid.temperatures, comm)
        out.append((mlp, mean, std, accuracy))
    return out


def train_controls(cfg, data, first, n_total, comm, results, run_dir, inputs, quiet):
    """The critique's controls (Veiga and Vicente), with Nh = max(rbm.hidden):
    "random": W drawn as N(0, sigma^2) with sigma the standard deviation of the trained RBM's W
    (Philox, purpose TRAINING + 1, step 2), b = c = 0; "extremes": an RBM trained the same way
    on the lowest and highest temperatures only. Returns {name: (params, history or None)}."""
    from ..rng.uniform import normals, uniforms
    nh = max(cfg.rbm.hidden)
    trained = results[nh][0].params
    sigma = float(np.std(trained.W))
    rows = trained.W.reshape(nh, -1).shape[1]
    u = uniforms((nh, 2 * rows), np.float64, cfg.run.seed, np.arange(nh), 2, nh, int(Purpose.TRAINING) + 1)
    W = normals(u, sigma)
    controls = {"random": (RBMParams(W.reshape(trained.W.shape).astype(trained.W.dtype), np.zeros_like(trained.b),
                                     np.zeros_like(trained.c), trained.q), None)}
    grid = Grid(cfg.sampling.temperatures, cfg.sampling.fields)
    nT, nH = grid.shape
    S = cfg.sampling.samples
    lo, hi = comm.slice(grid.size)
    chosen = [p for p in range(grid.size) if grid.index(p)[0] in (0, nT - 1)]
    mine = [p for p in chosen if lo <= p < hi]
    subset = np.concatenate([data[(p - lo) * S:(p - lo + 1) * S] for p in mine]) if mine else data[:0]
    sub_first, sub_total = S * sum(p < lo for p in chosen), S * len(chosen)
    if nT < 2 or cfg.rbm.batch_size > sub_total:
        get_logger().warning("control 'extremes' skipped: needs two temperatures and batch_size <= %d", sub_total)
        return controls
    state, info = train_one(cfg, nh, subset, sub_first, sub_total, comm,
                            run_dir / "checkpoints" / "rbm_control_extremes.h5", inputs + "\ncontrol = extremes", quiet)
    controls["extremes"] = (state.params, state.history)
    return controls


def _write_params(group, p, history, **attrs):
    """An RBM's W, b, c, training history and attributes into an HDF5 group of rbm.h5."""
    group["W"], group["b"], group["c"] = p.W, p.b, p.c
    for name, values in (history or {}).items():
        group[f"history/{name}"] = np.asarray(values, dtype=np.float64)
    group.attrs.update(n_hidden=p.n_hidden, n_visible=p.n_visible, q=p.q, **attrs)


def write_thermometers(path, cfg, thermometers, attrs):
    with replaced_on_success(path) as tmp, h5py.File(tmp, "w") as h5:
        h5["temperatures"] = np.asarray(cfg.sampling.temperatures, float)
        h5["fields"] = np.asarray(cfg.sampling.fields, float)
        for iH, (mlp, mean, std, accuracy) in enumerate(thermometers):
            g = h5.create_group(f"thermometer/field{iH}")
            for name, value in zip(("W1", "b1", "W2", "b2"), mlp.arrays()):
                g[name] = value
            g["calibration/predicted_mean"], g["calibration/predicted_std"] = mean, std
            g.attrs.update(accuracy=accuracy, field=cfg.sampling.fields[iH])
        h5.attrs.update(attrs)


def train(run_dir, comm, backend, overrides=(), quiet=False, cfg=None):
    """Run the RBM stage on RUN_DIR (collective); returns the path of rbm.h5.

    ``cfg``: the run's config (``hpcrbm run``); by default the one stored in samples.h5.
    """
    log = get_logger()
    run_dir = Path(run_dir)
    cfg = cfg or load_run_config(run_dir, overrides)
    inputs = fingerprint(cfg, STAGE_SECTIONS)
    final = run_dir / RBM_FILE
    if is_complete(final, inputs):
        log.info("%s is complete for this config; nothing to do", final)
        return final
    data, first, n_total = load_visible_data(run_dir / "samples.h5", cfg, comm)
    if cfg.rbm.batch_size > n_total:
        raise InputError(f"config key rbm.batch_size: {cfg.rbm.batch_size} is larger than the data "
                         f"({n_total} samples)")
    (run_dir / "checkpoints").mkdir(exist_ok=True) if comm.is_root else None
    comm.barrier()
    start = now()
    results = {}
    for nh in cfg.rbm.hidden:
        results[nh] = train_one(cfg, nh, data, first, n_total, comm, run_dir / "checkpoints" / f"rbm_nh{nh}.h5",
                                inputs + f"\nnh = {nh}", quiet)
    thermometers = train_thermometers(cfg, data, comm)
    controls = train_controls(cfg, data, first, n_total, comm, results, run_dir, inputs, quiet)
    if comm.is_root:
        with replaced_on_success(final) as tmp:
            with h5py.File(tmp, "w") as h5:
                for nh, (state, info) in results.items():
                    _write_params(h5.create_group(f"rbm/nh{nh}"), state.params, state.history, **info)
                for name, (p, history) in controls.items():
                    _write_params(h5.create_group(f"controls/{name}"), p, history)
                attrs = provenance(comm, backend, cfg.run.seed, start, "root")
                attrs.update(stage="train", config=to_toml(cfg), inputs=inputs, model=cfg.model.kind,
                             dim=cfg.model.dim, L=cfg.model.L, q=cfg.model.q, visible=cfg.rbm.visible,
                             method=cfg.rbm.method, end_time=now(), complete=True,
                             conventions="E(v,h) = -b.v - c.h - h W v; Ising v = (1 + s) / 2; categorical: "
                                         "one-hot, zero-sum gauge over q")
                h5.attrs.update(attrs)
            write_thermometers(run_dir / THERMOMETER_FILE, cfg, thermometers,
                               {**attrs, "stage": "train (thermometer)",
                                "model_description": "MLP: ReLU hidden layer, softmax over the training temperatures"})
        for name in [f"rbm_nh{nh}" for nh in cfg.rbm.hidden] + ["rbm_control_extremes"]:
            (run_dir / "checkpoints" / f"{name}.h5").unlink(missing_ok=True)
    comm.barrier()
    log.info("wrote %s", final)
    return final
