"""The RBM stage: ``hpcrbm train RUN_DIR`` trains one RBM per Nh in ``rbm.hidden`` on every
configuration of samples.h5 (all (T, H) points together; the RBM is never told T or H).

Output ``rbm.h5`` (layout in io/files.py): ``/rbm/nh{Nh}/`` with W, b, c and ``history/``
(epoch, reconstruction_error, pseudo_likelihood, log_likelihood: exact when Nh <= 20, else NaN
per epoch and an AIS estimate at the end, attributes log_likelihood_method and log_partition);
``/controls/random`` and ``/controls/extremes`` (see :func:`train_controls`).
Checkpoints ``checkpoints/rbm_nh{Nh}.h5`` (written by rank 0: every rank holds the same
weights) make a killed training resume with identical results.
"""
import h5py
import numpy as np

from ..errors import InputError
from ..grid import Grid
from ..io import files
from ..io.hdf5 import replaced_on_success
from ..log import get_logger
from ..rng.streams import Purpose
from ..rng.uniform import normals, uniforms
from ..stage import Stage
from .likelihood import MAX_EXACT_HIDDEN, ais_log_partition, exact_log_partition
from .model import RBMParams, encode
from .training import Trainer, TrainingSettings, TrainingState


def settings_for(cfg, n_hidden):
    r = cfg.rbm
    return TrainingSettings(n_hidden=n_hidden, q=cfg.model.q if r.visible == "categorical" else 0,
                            method=r.method, k=r.k, learning_rate=r.learning_rate, batch_size=r.batch_size,
                            momentum=r.momentum, weight_decay=r.weight_decay, dtype=r.dtype, seed=cfg.run.seed)


def _save_checkpoint(path, state, inputs, done):
    with replaced_on_success(path, ".tmp") as tmp, h5py.File(tmp, "w") as h5:
        p = state.params
        for name, value in (("W", p.W), ("b", p.b), ("c", p.c), ("vW", state.velocity[0]),
                            ("vb", state.velocity[1]), ("vc", state.velocity[2]), ("chains", state.chains)):
            h5[name] = value
        for name, values in state.history.items():
            h5[f"history/{name}"] = np.asarray(values, dtype=np.float64)
        for epoch, arrays in state.snapshots.items():
            for name, value in zip(files.PARAMS, arrays):
                h5[f"{files.snapshot_group(epoch)}/{name}"] = value
        h5.attrs.update(inputs=inputs, epoch=state.epoch, done=done, q=p.q)


def _load_checkpoint(path, inputs):
    """The TrainingState saved in ``path`` for the same inputs, or None."""
    try:
        with h5py.File(path, "r") as h5:
            if h5.attrs.get("inputs") != inputs:
                return None
            a = {name: h5[name][...] for name in ("W", "b", "c", "vW", "vb", "vc", "chains")}
            history = {name: list(h5[f"history/{name}"][...]) for name in h5["history"]}
            snapshots = {files.snapshot_epoch(name): tuple(h5[f"snapshots/{name}/{x}"][...] for x in files.PARAMS)
                         for name in h5.get("snapshots", {})}
            state = TrainingState(RBMParams(a["W"], a["b"], a["c"], int(h5.attrs["q"])), [a["vW"], a["vb"], a["vc"]],
                                  a["chains"], int(h5.attrs["epoch"]), history, snapshots)
            return state
    except (OSError, KeyError):
        return None


def train_one(ctx, n_hidden, data, first, n_total, checkpoint, inputs, snapshots=()):
    """Train (or resume) the RBM with ``n_hidden`` hidden units, keeping copies of the parameters
    at the epochs ``snapshots``; returns (state, log Z info)."""
    cfg, comm = ctx.cfg, ctx.comm
    log = get_logger()
    trainer = Trainer(settings_for(cfg, n_hidden), data, first, n_total, comm,
                      cfg.model.L ** cfg.model.dim)
    state = _load_checkpoint(checkpoint, inputs)
    if comm.all_true(state is not None):
        log.info("Nh=%d: resuming at epoch %d", n_hidden, state.epoch)
    else:
        state = trainer.initial_state()
    bar = ctx.progress(cfg.rbm.epochs, state.epoch, f"train Nh={n_hidden}", "epoch")
    timer = ctx.checkpoint_timer()
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
        if state.epoch in snapshots:
            p = state.params
            state.snapshots[state.epoch] = (p.W.copy(), p.b.copy(), p.c.copy())
        bar.update(1)
        if timer.due():
            if state.epoch < cfg.rbm.epochs and comm.is_root:
                _save_checkpoint(checkpoint, state, inputs, False)
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


def train_controls(ctx, data, results):
    """The critique's controls (Veiga and Vicente), with Nh = max(rbm.hidden):
    "random": W drawn as N(0, sigma^2) with sigma the standard deviation of the trained RBM's W
    (Philox, stream CONTROL_WEIGHTS), b = c = 0; "extremes": an RBM trained the same way
    on the lowest and highest temperatures only. Returns {name: (params, history or None)}."""
    cfg, comm = ctx.cfg, ctx.comm
    nh = max(cfg.rbm.hidden)
    trained = results[nh][0].params
    sigma = float(np.std(trained.W))
    rows = trained.W.reshape(nh, -1).shape[1]
    u = uniforms((nh, 2 * rows), np.float64, cfg.run.seed, np.arange(nh), 0, nh, Purpose.CONTROL_WEIGHTS)
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
    state, info = train_one(ctx, nh, subset, sub_first, sub_total, ctx.checkpoints / "rbm_control_extremes.h5",
                            ctx.inputs + "\ncontrol = extremes")
    controls["extremes"] = (state.params, state.history)
    return controls


def train(ctx):
    """Compute the RBM stage on ``ctx`` (collective): rbm.h5."""
    cfg, comm = ctx.cfg, ctx.comm
    configs, first, n_total = files.read_rank_configs(ctx.path(files.SAMPLES), cfg, comm)
    data = encode(configs, cfg.rbm.visible, cfg.model.q, np.dtype(cfg.rbm.dtype))
    if cfg.rbm.batch_size > n_total:
        raise InputError(f"config key rbm.batch_size: {cfg.rbm.batch_size} is larger than the data "
                         f"({n_total} samples)")
    results = {nh: train_one(ctx, nh, data, first, n_total, ctx.checkpoints / f"rbm_nh{nh}.h5",
                             ctx.inputs + f"\nnh = {nh}", cfg.rbm.snapshots) for nh in cfg.rbm.hidden}
    controls = train_controls(ctx, data, results)
    with ctx.writing() as f:
        for nh, (state, info) in results.items():
            p = state.params
            files.write_rbm(f, files.rbm_group(nh), p.W, p.b, p.c, state.history,
                            dict(n_hidden=p.n_hidden, n_visible=p.n_visible, q=p.q, **info), state.snapshots)
        for name, (p, history) in controls.items():
            files.write_rbm(f, files.control_group(name), p.W, p.b, p.c, history,
                            dict(n_hidden=p.n_hidden, n_visible=p.n_visible, q=p.q))
    folder = ctx.checkpoints
    if comm.is_root:
        for name in [f"rbm_nh{nh}" for nh in cfg.rbm.hidden] + ["rbm_control_extremes"]:
            (folder / f"{name}.h5").unlink(missing_ok=True)
    comm.barrier()


STAGE = Stage(
    "train", files.RBM, sections=("rbm",), reads=("simulate",), compute=train, required=files.rbm_required,
    attrs=lambda cfg: dict(model=cfg.model.kind, dim=cfg.model.dim, L=cfg.model.L, q=cfg.model.q,
                           visible=cfg.rbm.visible, method=cfg.rbm.method,
                           conventions="E(v,h) = -b.v - c.h - h W v; Ising v = (1 + s) / 2; categorical: "
                                       "one-hot, zero-sum gauge over q"))
