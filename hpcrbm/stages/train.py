"""The RBM stage: ``hpcrbm train RUN_DIR`` trains ``rbm.seeds`` independent RBMs per Nh in
``rbm.hidden`` on the training configurations of samples.h5 (the first ``rbm.train_fraction`` of
every (T, H) point's samples, all points together; the RBM is never told T or H). With
``rbm.random_sign`` each configuration is multiplied by a random global sign first (stream
RBM_SIGN, index = its global sample index in samples.h5).

Output ``rbm.h5`` (layout in io/files.py): ``/rbm/{key}/`` (key "nh{Nh}", "nh{Nh}_seed{r}" for the
seeds r >= 1) with W, b, c and ``history/``
(epoch, reconstruction_error, pseudo_likelihood, log_likelihood: exact when Nh <= 20, else NaN
per epoch and an AIS estimate at the end, attributes log_likelihood_method and log_partition);
``/controls/random`` and ``/controls/extremes`` (see :func:`random_control`, :func:`extremes_data`).
Checkpoints ``checkpoints/rbm_{key}.h5`` (written by the RBM's first rank: every rank training it
holds the same weights) make a killed training resume with identical results.
"""
import dataclasses
import time

import numpy as np

from ..backend import to_host
from ..grid import Grid
from ..io import files
from ..log import get_logger, warn_all
from ..parallel.communicator import Communicator
from ..protocol.checkpoint import Checkpoint, wait_for_ranks
from ..protocol.stage import Stage, StageNeeds, TimeEstimate, busiest, job_owners, measure
from ..rbm.likelihood import MAX_EXACT_HIDDEN, ais_log_partition, exact_log_partition
from ..rbm.model import RBMParams, encode
from ..rbm.monitors import plateau_reached
from ..rbm.training import Trainer, TrainingSettings, TrainingState, training_kernels
from ..rng.streams import Purpose, counter_words
from ..rng.uniform import normals, uniforms


def settings_for(cfg, n_hidden, training_seed=0):
    r = cfg.rbm
    return TrainingSettings(n_hidden=n_hidden, q=cfg.model.q if r.visible == "categorical" else 0,
                            method=r.method, k=r.k, learning_rate=r.learning_rate, batch_size=r.batch_size,
                            momentum=r.momentum, weight_decay=r.weight_decay, dtype=r.dtype, seed=cfg.run.seed,
                            biases=r.biases, init_std=r.init_std, training_seed=training_seed)


def training_samples(cfg):
    """Samples per (T, H) point in the training set: the first round(train_fraction * S)."""
    return max(1, int(round(cfg.rbm.train_fraction * cfg.sampling.samples)))


MODELS_BYTES = 2**31  # rbm.parallel = "auto": whole RBMs per rank only while the training set fits this


def parallel_mode(cfg, ranks):
    """How the train stage splits its work over ``ranks``: "data" or "models" (rbm.parallel).
    "auto" gives each rank whole RBMs when there are at least as many trained RBMs as ranks and
    the whole training set (every rank reads it) takes at most MODELS_BYTES in rbm.dtype; else
    all ranks train each RBM together. Training is exact, so the mode changes no bit."""
    r, s, m = cfg.rbm, cfg.sampling, cfg.model
    if ranks == 1:
        return "data"
    if r.parallel != "auto":
        return r.parallel
    units = m.L ** m.dim * (1 if r.visible == "bernoulli" else m.q)
    data_bytes = len(s.temperatures) * len(s.fields) * training_samples(cfg) * units * np.dtype(r.dtype).itemsize
    return "models" if len(r.hidden) * r.seeds >= ranks and data_bytes <= MODELS_BYTES else "data"


def training_data(path, cfg, comm):
    """This rank's training configurations as visible vectors (n_local, units) of rbm.dtype, the
    global index of its first one and the global count (sample i = point * S_train + j)."""
    configs, first, n_total = files.read_rank_configs(path, cfg, comm)
    S, S_train = cfg.sampling.samples, training_samples(cfg)
    if cfg.rbm.random_sign:
        index = first + np.arange(len(configs))
        sign = 1 - 2 * (counter_words(cfg.run.seed, 0, 0, 0, index, Purpose.RBM_SIGN) & 1).astype(np.int8)
        configs = configs * sign.reshape((-1,) + (1,) * (configs.ndim - 1))
    configs = configs.reshape((-1, S) + configs.shape[1:])[:, :S_train].reshape((-1,) + configs.shape[1:])
    data = encode(configs, cfg.rbm.visible, cfg.model.q, np.dtype(cfg.rbm.dtype))
    return data, first // S * S_train, n_total // S * S_train


def _state_writer(state, done, info=None):
    """A writer of the checkpoint of ``state`` (Checkpoint.write): weights, velocities, chains,
    history, snapshots; ``done`` with the log Z ``info`` once training ended."""
    def write(h5):
        p = state.params
        for name, value in (("W", p.W), ("b", p.b), ("c", p.c), ("vW", state.velocity[0]),
                            ("vb", state.velocity[1]), ("vc", state.velocity[2]), ("chains", state.chains)):
            h5[name] = to_host(value)
        for name, values in state.history.items():
            h5[files.history_dataset(name)] = np.asarray(values, dtype=np.float64)
        for epoch, arrays in state.snapshots.items():
            for name, value in zip(files.PARAMS, arrays):
                h5[f"{files.snapshot_group(epoch)}/{name}"] = value
        h5.attrs.update({"epoch": state.epoch, "done": done, "q": p.q, "weight_grid": state.weight_grid,
                         **(info or {})})
    return write


def _read_state(h5):
    """The TrainingState of a checkpoint (Checkpoint.read)."""
    a = {name: h5[name][...] for name in files.TRAINING_STATE}
    history = {name: list(h5[files.history_dataset(name)][...]) for name in h5[files.HISTORY]}
    snapshots = {files.snapshot_epoch(name): tuple(h5[files.snapshot_dataset(name, x)][...] for x in files.PARAMS)
                 for name in h5.get(files.SNAPSHOTS, {})}
    return TrainingState(RBMParams(a["W"], a["b"], a["c"], int(h5.attrs["q"])), [a["vW"], a["vb"], a["vc"]],
                         a["chains"], int(h5.attrs["epoch"]), history, snapshots, int(h5.attrs["weight_grid"]))


def _read_result(h5):
    """(TrainingState, log Z info) of a finished training's checkpoint (Checkpoint.read)."""
    return _read_state(h5), {k: h5.attrs[k].item() if hasattr(h5.attrs[k], "item") else h5.attrs[k] for k in INFO}


def train_one(ctx, n_hidden, data, first, n_total, checkpoint, snapshots=(), training_seed=0, key=None):
    """Train (or resume from ``checkpoint``) the RBM with ``n_hidden`` hidden units and training
    seed ``training_seed``, keeping copies of the parameters at the epochs ``snapshots``; returns
    (state, log Z info). ``key``: its name in logs and progress (default: files.rbm_key)."""
    cfg, comm = ctx.cfg, ctx.comm
    log = get_logger()
    key = key or files.rbm_key(n_hidden, training_seed)
    settings = settings_for(cfg, n_hidden, training_seed)
    kernels = training_kernels(ctx.backend)
    trainer = Trainer(settings, data, first, n_total, comm, cfg.model.L ** cfg.model.dim, kernels)
    state = checkpoint.read(_read_state)
    if comm.all_true(state is not None):
        log.info("%s: resuming at epoch %d", key, state.epoch)
        state = state.to(trainer.xp)
    else:
        state = trainer.initial_state()
    bar = ctx.progress(cfg.rbm.epochs, state.epoch, f"train {key}", "epoch")

    exact = n_hidden <= MAX_EXACT_HIDDEN
    free_energy = log_z = None  # of the current parameters, once computed
    r, sites = cfg.rbm, cfg.model.L ** cfg.model.dim

    def plateau():  # rbm.stop's rule on the history alone: the same epoch on any rank count and after a resume
        return r.stop == "plateau" and plateau_reached(state.history, sites, r.patience, r.tolerance)
    stop = plateau()  # also when resumed after the stop
    with trainer.blas_threads():  # one BLAS thread where the products are small
        while state.epoch < cfg.rbm.epochs and not stop:
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
                state.snapshots[state.epoch] = tuple(to_host(a).copy() for a in (p.W, p.b, p.c))
            bar.update(1)
            stop = plateau()
            if state.epoch < cfg.rbm.epochs and not stop:
                checkpoint.save_if_due(lambda: checkpoint.write(_state_writer(state, False)))
    bar.close()
    stopped_by = "plateau" if stop else "epochs"
    if exact:
        if log_z is None:  # resumed after the last epoch: the loop did not run
            free_energy, log_z = trainer.mean_free_energy(state.params), exact_log_partition(state.params)
        log_z_err, method = 0.0, "exact"
    else:
        base = np.log(np.clip(comm.allreduce_sum(data.sum(0, dtype=np.float64)) / n_total, 1e-3, 1 - 1e-3))
        if cfg.rbm.visible != "categorical":
            base = base - np.log1p(-np.exp(base))
        log_z, log_z_err = (ais_log_partition(state.params, base, cfg.run.seed, cfg.rbm.ais_chains, cfg.rbm.ais_steps,
                                              settings.point, kernels.runner) if comm.is_root else (0.0, 0.0))
        log_z, log_z_err, method = comm.bcast_number(log_z), comm.bcast_number(log_z_err), "ais"
        free_energy = trainer.mean_free_energy(state.params)
    info = {"log_partition": log_z, "log_partition_err": log_z_err, "log_likelihood_method": method,
            "final_log_likelihood": free_energy - log_z, "weight_grid": state.weight_grid,
            "probability_grid": trainer.probability_grid, "stopped_by": stopped_by}
    checkpoint.write(_state_writer(state, True, info))
    return state.to(np), info


INFO = ("log_partition", "log_partition_err", "log_likelihood_method", "final_log_likelihood", "weight_grid",
        "probability_grid", "stopped_by")


def random_control(cfg, trained):
    """The critique's untrained control (Veiga and Vicente): W drawn as N(0, sigma^2) with sigma
    the standard deviation of ``trained``'s W (Philox, stream CONTROL_WEIGHTS), b = c = 0."""
    nh = trained.n_hidden
    rows = trained.W.reshape(nh, -1).shape[1]
    u = uniforms((nh, 2 * rows), np.float64, cfg.run.seed, np.arange(nh), 0, nh, Purpose.CONTROL_WEIGHTS)
    W = normals(u, float(np.std(trained.W)))
    return RBMParams(W.reshape(trained.W.shape).astype(trained.W.dtype), np.zeros_like(trained.b),
                     np.zeros_like(trained.c), trained.q)


def extremes_data(cfg, data, comm):
    """The training samples of the lowest and highest temperatures among this rank's ``data``
    (``comm``'s slice of the grid), with the global index of the first and the global count."""
    grid = Grid(cfg.sampling.temperatures, cfg.sampling.fields)
    S = training_samples(cfg)
    lo, hi = comm.slice(grid.size)
    chosen = [p for p in range(grid.size) if grid.index(p)[0] in (0, grid.shape[0] - 1)]
    mine = [p for p in chosen if lo <= p < hi]
    subset = np.concatenate([data[(p - lo) * S:(p - lo + 1) * S] for p in mine]) if mine else data[:0]
    return subset, S * sum(p < lo for p in chosen), S * len(chosen)


def compute(ctx):
    """Compute the RBM stage on ``ctx`` (collective): rbm.h5.

    rbm.parallel = "data": every RBM is trained by all ranks together, each on its grid slice.
    "models": every rank reads the whole training set and trains whole RBMs (the trained RBMs by
    N_h and seed, then the "extremes" control; :func:`job_owners` balances their cost, samples
    times N_h + 10 per epoch), and reads the others' results from their final checkpoints.
    "auto": :func:`parallel_mode`. Training is exact (rbm/kernels/training_cpu.py), so both give the
    same weights bit for bit on any number of ranks.
    """
    cfg, comm = ctx.cfg, ctx.comm
    by_models = parallel_mode(cfg, comm.size) == "models"
    work = dataclasses.replace(ctx, comm=Communicator.alone()) if by_models else ctx
    data, first, n_total = training_data(ctx.path(files.SAMPLES), cfg, work.comm)
    sub, sub_first, sub_total = extremes_data(cfg, data, work.comm)
    extremes = len(cfg.sampling.temperatures) >= 2 and cfg.rbm.batch_size <= sub_total
    if not extremes:
        warn_all(comm, "control 'extremes' skipped: needs two temperatures and batch_size <= %d", sub_total)
    jobs = [(files.rbm_key(nh, r), nh, r) for nh in cfg.rbm.hidden for r in range(cfg.rbm.seeds)]
    jobs += [(files.CONTROL_EXTREMES, max(cfg.rbm.hidden), 0)] if extremes else []
    owners = job_owners([(sub_total if key == files.CONTROL_EXTREMES else n_total) * (nh + 10) for key, nh, _ in jobs],
                        comm.size)
    checkpoints = [ctx.checkpoint(f"rbm_{key}.h5", "\ncontrol = extremes" if key == files.CONTROL_EXTREMES else
                                  f"\nnh = {nh}" + (f"\ntraining seed = {r}" if r else ""), work.comm)
                   for key, nh, r in jobs]  # collective (creates the folder): before the ranks go their ways
    results = {}
    for j, ((key, nh, r), checkpoint) in enumerate(zip(jobs, checkpoints)):
        if by_models and owners[j] != comm.rank:
            results[key] = checkpoint  # trained by another rank: read from its final checkpoint below
        elif key == files.CONTROL_EXTREMES:
            results[key] = train_one(work, nh, sub, sub_first, sub_total, checkpoint, key=key)
        else:
            results[key] = train_one(work, nh, data, first, n_total, checkpoint, cfg.rbm.snapshots, r)
    wait_for_ranks(comm)  # ranks worked alone: no spinning, and a stop anywhere stops all
    results = {key: value.read(_read_result) if isinstance(value, Checkpoint) else value
               for key, value in results.items()}
    controls = {"random": (random_control(cfg, results[files.rbm_key(max(cfg.rbm.hidden))][0].params), None)}
    if extremes:
        state = results.pop(files.CONTROL_EXTREMES)[0]
        controls["extremes"] = (state.params, state.history)
    with ctx.writing() as f:
        for key, (state, info) in results.items():
            p = state.params
            files.write_rbm(f, files.rbm_group(key), p.W, p.b, p.c, state.history,
                            dict(n_hidden=p.n_hidden, n_visible=p.n_visible, q=p.q, **info), state.snapshots)
        for name, (p, history) in controls.items():
            files.write_rbm(f, files.control_group(name), p.W, p.b, p.c, history,
                            dict(n_hidden=p.n_hidden, n_visible=p.n_visible, q=p.q))
    if comm.is_root:  # the checkpoints' own communicator may be one rank's alone
        for checkpoint in checkpoints:
            checkpoint.path.unlink(missing_ok=True)
    comm.barrier()


def needs(cfg, ranks, upstream):
    """The training data (int8 read, then encoded), W with its velocity, fixed-point copy and
    gradient, an update's rows; rbm.h5 (snapshots, the two controls, the history) and the
    checkpoints. On a GPU: the encoded data, W's copies, an update's rows, probabilities and
    uniforms, the monitors and log Z's blocks of 4096 rows."""
    m, s, r = cfg.model, cfg.sampling, cfg.rbm
    n_sites, points = m.L ** m.dim, len(s.temperatures) * len(s.fields)
    visible = n_sites * (1 if r.visible == "bernoulli" else m.q)
    itemsize = np.dtype(r.dtype).itemsize
    trained = len(r.hidden) * r.seeds
    data_points = points if parallel_mode(cfg, ranks) == "models" else busiest(points, ranks)
    data = data_points * s.samples * (n_sites + visible * itemsize)
    largest = max(r.hidden) * visible
    per_rbm = [nh * visible * itemsize for nh in r.hidden]  # bytes of one W
    kept = sum(w * (r.seeds * (1 + len(r.snapshots)) + 2) for w in per_rbm)
    monitor = min(1000, points * round(r.train_fraction * s.samples))
    device = (data_points * round(r.train_fraction * s.samples) * visible * itemsize + 4 * 8 * largest
              + 8 * 8 * r.batch_size * (visible + max(r.hidden)) + 8 * 4 * monitor * visible
              + 8 * 4096 * (visible + max(r.hidden)) * 2)
    return StageNeeds("train", data + 8 * 8 * largest + 8 * r.batch_size * (visible + max(r.hidden)),
                      {files.RBM: kept + 8 * 4 * r.epochs * trained,
                       "checkpoints/rbm_*.h5": sum(w * r.seeds * (2 + len(r.snapshots)) for w in per_rbm)},
                      f"{trained * r.epochs * points * round(r.train_fraction * s.samples):.3g} sample-epochs "
                      f"of N_h up to {max(r.hidden)}", device=device)


def _monitor_seconds(cfg, n_hidden, n_total):
    """Seconds of one epoch's monitors of an RBM with ``n_hidden`` hidden units (reconstruction
    error and pseudo-likelihood on MONITOR_SAMPLES samples; below MAX_EXACT_HIDDEN, the exact
    log-likelihood: the mean free energy of all ``n_total`` samples and log Z) and of the epoch's
    permutation, timed on random data of this shape."""
    from ..rbm.training import MONITOR_SAMPLES
    r, m = cfg.rbm, cfg.model
    units = m.L ** m.dim * (m.q if r.visible == "categorical" else 1)
    rows = min(n_total, 4 * MONITOR_SAMPLES)
    data = (np.random.default_rng(0).random((rows, units)) < 0.5).astype(r.dtype)
    if r.visible == "categorical":
        data = encode(np.random.default_rng(0).integers(0, m.q, (rows, m.L ** m.dim)), "categorical", m.q,
                      np.dtype(r.dtype))
    trainer = Trainer(settings_for(cfg, n_hidden), data, 0, n_total, Communicator.alone(), m.L ** m.dim)
    params = trainer.initial_state().params

    def epoch():
        trainer.permutation(1)
        trainer.reconstruction_and_pseudo_likelihood(params, 1)
        if n_hidden <= MAX_EXACT_HIDDEN:
            trainer.mean_free_energy(params)
            exact_log_partition(params)
    seconds, _ = measure(epoch, repeats=1)
    exact = n_hidden <= MAX_EXACT_HIDDEN
    if exact and rows < n_total:  # the mean free energy scales with the samples
        t0 = time.perf_counter()
        trainer.mean_free_energy(params)
        seconds += (time.perf_counter() - t0) * (n_total / rows - 1)
    return seconds


def _ais_seconds(cfg):
    """Seconds of the AIS estimate of log Z (rbm.ais_chains x rbm.ais_steps) of an RBM of the
    largest N_h: 20 of its steps timed."""
    r, m = cfg.rbm, cfg.model
    top, q = max(r.hidden), (m.q if r.visible == "categorical" else 0)
    W = np.random.default_rng(0).normal(0, 0.1, (top, m.L ** m.dim, q) if q else (top, m.L ** m.dim))
    params = RBMParams(W, np.zeros(W.shape[1:]), np.zeros(top), q)
    seconds, _ = measure(lambda: ais_log_partition(params, np.zeros(W[0].size), cfg.run.seed, r.ais_chains, 20, top),
                         repeats=1)
    return seconds * r.ais_steps / 20


def estimate(cfg, ranks):
    """Sample-epochs of every RBM at the rate of ``hpcrbm bench rbm`` at this N_v and the largest
    N_h (scaled by N_h, and by q for categorical visibles), plus every epoch's monitors (timed per
    N_h) and the AIS log Z of those above MAX_EXACT_HIDDEN, spread like the stage spreads them
    (whole RBMs per rank, or every RBM on all ranks)."""
    from ..backend import select_backend
    from ..rbm.throughput import bench_rbm
    r, m = cfg.rbm, cfg.model
    top = max(r.hidden)
    rates = []
    _, compile_seconds = measure(lambda: rates.append(bench_rbm(
        Communicator.alone(), select_backend("cpu"), n_hidden=top, epochs=1, dtype=r.dtype, method=r.method,
        L=m.L, biases=r.biases)["samples_per_s"]), repeats=1)
    per_epoch = len(cfg.sampling.temperatures) * len(cfg.sampling.fields) * training_samples(cfg)
    extremes = 2 / max(len(cfg.sampling.temperatures), 2)
    factor = m.q if r.visible == "categorical" else 1
    monitors = {nh: _monitor_seconds(cfg, nh, per_epoch) for nh in r.hidden}
    ais = _ais_seconds(cfg) if top > MAX_EXACT_HIDDEN else 0.0  # log Z at the end, N_h = top
    costs = [r.epochs * (per_epoch * nh / top * factor / rates[-1] + monitors[nh])
             + (ais * nh / top if nh > MAX_EXACT_HIDDEN else 0.0) for nh in r.hidden for _ in range(r.seeds)]
    costs += [r.epochs * (per_epoch * extremes * factor / rates[-1] + monitors[top])]
    if parallel_mode(cfg, ranks) == "models":
        owners = job_owners(costs, ranks)
        seconds = max(sum(c for c, o in zip(costs, owners) if o == rank) for rank in range(ranks))
    else:
        seconds = sum(costs) / ranks
    return TimeEstimate(seconds, compile_seconds, f"{len(costs)} RBMs x {r.epochs} epochs of {per_epoch} samples "
                        f"at {rates[-1]:.3g} samples/s (N_h = {top}), monitors "
                        f"{sum(monitors.values()) / len(monitors) * 1e3:.3g} ms per epoch")


STAGE = Stage(
    "train", files.RBM, sections=("rbm",), reads=("simulate",), compute=compute, required=files.rbm_required,
    needs=needs, summary="RBM stage: one RBM per rbm.hidden and training seed", version=3, estimate=estimate,
    limits="model.L, sampling.samples or rbm.hidden",
    attrs=lambda cfg: dict(model=cfg.model.kind, dim=cfg.model.dim, L=cfg.model.L, q=cfg.model.q,
                           visible=cfg.rbm.visible, method=cfg.rbm.method,
                           conventions="E(v,h) = -b.v - c.h - h W v; Ising v = (1 + s) / 2; categorical: "
                                       "one-hot, zero-sum gauge over q"))
