"""The Monte Carlo stage: ``hpcrbm simulate CONFIG`` samples every (T, H) grid point of a config
into ``samples.h5`` (layout in io/files.py).

Each rank owns a contiguous slice of the flat grid (``Communicator.slice``). Samples are
streamed into ``samples.h5.partial`` at checkpoints, together with an atomically replaced
checkpoint (``checkpoints/samples.h5``: every point's spins, observables so far and the
step counter); the finished file is renamed to ``samples.h5``. Checkpoints are per grid
point, so a run may even resume on a different number of ranks.
"""
import math
import time

import h5py
import numpy as np

from ..errors import InputError
from ..grid import Grid
from ..io import files
from ..io.hdf5 import GridFile, read_points
from ..log import get_logger
from ..montecarlo.models import make_model
from ..montecarlo.schedule import Schedule
from ..montecarlo.tempering import Tempering, swap_lattices
from ..montecarlo.updaters import make_updater
from ..protocol.stage import Stage, StageNeeds, TimeEstimate, busiest, measure
from ..stats import SUMMARY_NAMES, point_summary
from ..stats.statistics import BLOCK_TAUS


class SimulationPlan:
    """Everything fixed before the first sweep: model, grid, schedule, this rank's points."""

    def __init__(self, ctx):
        cfg, comm = ctx.cfg, ctx.comm
        self.ctx = ctx
        self.cfg = cfg
        self.comm = comm
        self.model = make_model(cfg.model)
        self.updater = make_updater(cfg.sampling.algorithm, self.model, ctx.backend)
        s = cfg.sampling
        self.grid = Grid(s.temperatures, s.fields)
        self.replicas = cfg.replicas
        self.samples = s.samples
        self.schedule = Schedule(s.thermalize, s.interval, s.samples // self.replicas)
        self.points = range(*comm.slice(self.grid.size))
        self.out = ctx.run_dir
        self.partial = ctx.partial
        self.checkpoint = None  # ctx.checkpoint(files.SAMPLES), once the run directory exists


class ChainState:
    """This rank's mutable state: spins of each local point and the observables so far."""

    def __init__(self, spins, energy, magnetization, tuning, steps_done, sweeps, position, tempering=None):
        self.spins = spins  # list of int8 (R, *lattice), one per local point
        self.energy = energy  # float64 (n_local, samples), NaN where not yet sampled
        self.magnetization = magnetization
        self.tuning = tuning  # int64 (n_local, n_tuning): updater settings found while thermalising
        self.steps_done = steps_done  # schedule steps completed by every point
        self.sweeps = sweeps  # int64 (n_local,): sweeps done by each local point
        self.position = position  # sweeps done by every point of the grid (the same on all ranks)
        self.tempering = tempering  # Tempering bookkeeping (identical on all ranks) or None
        self.pending = []  # (local index, first sample, int8 (R, *lattice)) not yet on disk


def _fresh_state(plan):
    cfg, model = plan.cfg, plan.model
    spins = [model.initial_state(cfg.run.seed, p, plan.replicas, cfg.sampling.start, plan.grid.values(p)[1])
             for p in plan.points]
    n = len(plan.points)
    nan = np.full((n, plan.samples), np.nan)
    tuning = np.zeros((n, plan.updater.n_tuning), dtype=np.int64)
    tempering = Tempering(plan.grid, plan.replicas) if cfg.sampling.tempering else None
    return ChainState(spins, nan, nan.copy(), tuning, 0, np.zeros(n, np.int64), 0, tempering)


def _load_checkpoint(plan):
    """ChainState from the checkpoint, or None if there is none usable. A checkpoint of other
    inputs (another seed, [model] or [sampling]) is an interrupted run of another config: it is
    refused like a finished samples.h5 of another config (InputError), never dropped."""
    if plan.checkpoint.made_from_other_inputs():
        raise InputError(f"{plan.checkpoint.path}: an interrupted simulation of a different [model]/[sampling]/seed; "
                         "use another run.out (--out) or remove it")
    try:
        with h5py.File(plan.partial, "r"):  # the checkpoint is only usable with its partial output
            pass
    except OSError:
        return None
    return plan.checkpoint.read(lambda h5: _read_state(plan, h5))


def _read_state(plan, h5):
    pts, shape = list(plan.points), plan.grid.shape
    spins, energy, magnetization, tuning, sweeps = (read_points(h5, name, pts, shape) for name in
                                                    files.CHAIN_STATE)
    tempering = None
    if plan.cfg.sampling.tempering:
        tempering = Tempering(plan.grid, plan.replicas)
        tempering.restore({name: h5[files.tempering(name)][...] for name in tempering.arrays()})
    return ChainState(list(spins), energy, magnetization, tuning, int(h5.attrs["steps_done"]),
                      sweeps.astype(np.int64), int(h5.attrs["position"]), tempering)


def _create_partial(plan):
    cfg, model, (nT, nH) = plan.cfg, plan.model, plan.grid.shape
    f = plan.ctx.start_partial(GridFile)
    temperatures, fields = plan.grid.arrays()
    f.create_global(files.TEMPERATURES, temperatures)
    f.create_global(files.FIELDS, fields)
    f.create(files.CONFIGS, (nT, nH, plan.samples) + model.lattice_shape, np.int8)
    for name in files.OBSERVABLES:
        f.create(files.observable(name), (nT, nH, plan.samples), np.float64)
    for name in files.SUMMARY_DATASETS:
        f.create(files.summary(name), (nT, nH), np.float64)
    if cfg.sampling.tempering:
        for name, value in Tempering(plan.grid, plan.replicas).arrays().items():
            f.create(files.tempering(name), value.shape, value.dtype)
        f.create(files.TEMPERING_ACCEPTANCE, (max(nT - 1, 0), nH), np.float64)
    f.set_attrs({"units": "per site", "definition": "E / N including -h sum s; m = sum s / N (signed)"},
                files.OBSERVABLES_GROUP)
    f.set_attrs({"tau_int_units": f"stored samples of one replica ({cfg.sampling.interval} sweeps)",
                 "errors": "jackknife over independent replica groups or round segments of at least "
                           f"{BLOCK_TAUS:g} tau_int (blocks: their number)"}, files.SUMMARY_GROUP)
    f.close()


def _flush(plan, state):
    """Write pending samples and observables into the partial file (collective), each point's
    consecutive samples in one block (one HDF5 write each, not one per step)."""
    runs = []  # [li, j0, j1, [configs]]: consecutive pending samples of one point
    last = {}
    for li, j0, configs in state.pending:
        run = last.get(li)
        if run is not None and run[2] == j0:
            run[2] += len(configs)
            run[3].append(configs)
        else:
            last[li] = run = [li, j0, j0 + len(configs), [configs]]
            runs.append(run)
    items, energy, magnet = [], [], []
    for li, j0, j1, parts in runs:
        iT, iH = plan.grid.index(plan.points[li])
        items.append((iT, iH, j0, j1, np.concatenate(parts) if len(parts) > 1 else parts[0]))
        energy.append((iT, iH, j0, j1, state.energy[li, j0:j1]))
        magnet.append((iT, iH, j0, j1, state.magnetization[li, j0:j1]))
    f = GridFile(plan.partial, plan.comm, "r+")
    f.write_points(files.CONFIGS, items)
    f.write_points(files.observable("energy"), energy)
    f.write_points(files.observable("magnetization"), magnet)
    f.close()
    state.pending = []


def _write_checkpoint(plan, state):
    """Every point's spins and observables so far (collective)."""
    (nT, nH), R = plan.grid.shape, plan.replicas

    def write(f):
        f.create(files.CHAIN_SPINS, (nT, nH, R) + plan.model.lattice_shape, np.int8)
        f.create(files.CHAIN_ENERGY, (nT, nH, plan.samples), np.float64)
        f.create(files.CHAIN_MAGNETIZATION, (nT, nH, plan.samples), np.float64)
        f.create(files.CHAIN_TUNING, (nT, nH, plan.updater.n_tuning), np.int64)
        f.create(files.CHAIN_SWEEPS, (nT, nH), np.int64)
        for name, rows in zip(files.CHAIN_STATE, (state.spins, state.energy, state.magnetization, state.tuning,
                                                  state.sweeps)):
            f.write_points(name, [(*plan.grid.index(p), None, None, rows[li]) for li, p in enumerate(plan.points)])
        _write_tempering(f, state.tempering, create=True)
        f.set_attrs({"steps_done": state.steps_done, "position": state.position})
    plan.checkpoint.write_parallel(write, GridFile)


def _write_tempering(f, tempering, create=False):
    """Tempering bookkeeping (identical on all ranks) into an open GridFile, by rank 0: the
    checkpoint creates its datasets, samples.h5 (created with them) also gets the acceptance."""
    if tempering is None:
        return
    for name, value in tempering.arrays().items():
        if create:
            f.create(files.tempering(name), value.shape, value.dtype)
        f.write_global(files.tempering(name), value)
    if not create:
        with np.errstate(invalid="ignore", divide="ignore"):
            f.write_global(files.TEMPERING_ACCEPTANCE, tempering.accepted / tempering.attempts)


def _finish(plan, state):
    """Summaries, the complete flag, and the atomic rename to samples.h5 (collective)."""
    rounds, R, N = plan.schedule.rounds, plan.replicas, plan.model.n_sites
    items = {name: [] for name in files.SUMMARY_DATASETS}
    for li, p in enumerate(plan.points):
        iT, iH = plan.grid.index(p)
        T, _ = plan.grid.values(p)
        with np.errstate(divide="ignore", invalid="ignore"):
            stats = point_summary(state.energy[li].reshape(rounds, R),
                                  state.magnetization[li].reshape(rounds, R), N, T)
        for name in SUMMARY_NAMES:
            items[name].append((iT, iH, None, None, stats[name][0]))
            items[f"{name}_err"].append((iT, iH, None, None, stats[name][1]))
        for name in ("tau_int", "blocks"):
            items[name].append((iT, iH, None, None, float(stats[name])))
    with plan.ctx.writing(GridFile, append=True) as f:
        for name, values in items.items():
            f.write_points(files.summary(name), values)
        _write_tempering(f, state.tempering)
    plan.checkpoint.remove()


def _advance(plan, state, params, sweep_to, pieces, pause):
    """Sweep every local point from ``state.position`` to ``sweep_to``, stopping for replica
    exchanges at multiples of ``exchange_every`` when tempering (collective then). Between
    exchanges the local points go in ``pieces`` groups (the same count on every rank) with
    ``pause()`` (collective: a checkpoint when one is due) between groups, so a long step can
    be checkpointed inside; a point's sweeps never depend on where the pauses fall."""
    cfg, seed = plan.cfg, plan.cfg.run.seed
    every = cfg.sampling.exchange_every if state.tempering is not None else 0
    start = state.position
    stops = list(range((start // every + 1) * every, sweep_to + 1, every)) if every else []
    if not stops or stops[-1] != sweep_to:
        stops.append(sweep_to)
    groups = np.array_split(np.arange(len(plan.points)), pieces)
    for stop in stops:
        thermalizing = stop <= cfg.sampling.thermalize
        for g, group in enumerate(groups):
            behind = [li for li in group if state.sweeps[li] < stop]
            for first in sorted({int(state.sweeps[li]) for li in behind}):
                chosen = [li for li in behind if state.sweeps[li] == first]
                plan.updater.sweep_points([state.spins[li] for li in chosen], [params[li] for li in chosen],
                                          [state.tuning[li] for li in chosen], seed,
                                          [plan.points[li] for li in chosen], first, stop - first, thermalizing)
            state.sweeps[group] = stop
            if g + 1 < len(groups):
                pause()
        if every and stop % every == 0:
            _exchange(plan, state, stop // every - 1, counted=not thermalizing)
        state.position = stop


def _exchange(plan, state, exchange, counted):
    """One round of replica exchanges: gather energies, decide everywhere, swap lattices."""
    grid, model = plan.grid, plan.model
    local = np.array([model.measure(spins, grid.values(p)[1])[0] * model.n_sites
                      for spins, p in zip(state.spins, plan.points)]).reshape(len(plan.points), plan.replicas)
    energies = plan.comm.allgather_slices(local, grid.size).reshape(grid.shape + (plan.replicas,))
    decisions = state.tempering.decide(plan.cfg.run.seed, exchange, energies)
    swap_lattices(decisions, grid, plan.points, state.spins, plan.comm)
    plan.updater.host_changed()
    state.tempering.record(decisions, counted)


def compute(ctx):
    """Compute the Monte Carlo stage on ``ctx`` (collective): samples.h5, resumed from its
    checkpoint when one of the same inputs exists."""
    comm = ctx.comm
    log = get_logger()
    plan = SimulationPlan(ctx)
    made = True
    if comm.is_root:
        try:
            ctx.path("checkpoints").mkdir(parents=True, exist_ok=True)
        except OSError:
            made = False
    if not comm.all_true(made):
        raise InputError(f"run.out: cannot create the run directory {plan.out}")
    plan.checkpoint = ctx.checkpoint(files.SAMPLES)

    state = _load_checkpoint(plan)
    if comm.all_true(state is not None):
        log.info("resuming from %s at step %d of %d", plan.checkpoint.path, state.steps_done, plan.schedule.steps)
    else:
        state = _fresh_state(plan)
        _create_partial(plan)

    schedule = plan.schedule
    params = [plan.updater.prepare(*plan.grid.values(p)) for p in plan.points]
    bar = ctx.progress(schedule.steps, state.steps_done, "simulate")

    def save():
        _flush(plan, state)
        _write_checkpoint(plan, state)

    most_points = -(-plan.grid.size // comm.size)  # local points of the busiest rank
    pieces, began = 1, time.monotonic()
    for step in range(state.steps_done, schedule.steps):
        _advance(plan, state, params, schedule.target(step), pieces, lambda: plan.checkpoint.save_if_due(save))
        rnd = schedule.round_of(step)
        if rnd >= 0:
            j0 = rnd * plan.replicas
            for li, p in enumerate(plan.points):
                e, m = plan.model.measure(state.spins[li], plan.grid.values(p)[1])
                state.energy[li, j0:j0 + plan.replicas] = e
                state.magnetization[li, j0:j0 + plan.replicas] = m
                state.pending.append((li, j0, state.spins[li].copy()))
        state.steps_done = step + 1
        bar.update(1)
        if step + 1 < schedule.steps:
            plan.checkpoint.save_if_due(save)
        # a step longer than a quarter of the checkpoint interval is cut into groups of points
        seconds, began = time.monotonic() - began, time.monotonic()
        wanted = math.ceil(seconds / (ctx.cfg.run.checkpoint_interval / 4))
        pieces = int(comm.bcast_number(min(max(wanted, 1), most_points)))
    bar.close()
    _flush(plan, state)
    _finish(plan, state)


def needs(cfg, ranks, upstream):
    """Spins, the observables so far and the samples waiting for the next checkpoint (at most
    all) of the busiest rank; samples.h5 and its checkpoint; on a GPU the batch of every local
    point's chains and a copy."""
    m, s = cfg.model, cfg.sampling
    n_sites, points, R = m.L ** m.dim, len(s.temperatures) * len(s.fields), cfg.replicas
    local = busiest(points, ranks)
    configs = points * s.samples * n_sites  # int8 bytes of /configs
    observables = 2 * 8 * points * s.samples
    return StageNeeds("simulate", local * (R * n_sites + 16 * s.samples + s.samples * n_sites),
                      {files.SAMPLES: configs + observables,
                       f"checkpoints/{files.SAMPLES}": points * R * n_sites + observables},
                      f"{points * R * n_sites * (s.thermalize + s.samples // R * s.interval):.3g} spin flips",
                      device=2 * local * R * n_sites)


def estimate(cfg, ranks):
    """Flips of the whole schedule at the rate of ``hpcrbm bench mc`` for this model and algorithm
    (L up to 64, one rank), plus one point's statistics (point_summary of its samples, timed),
    for the busiest rank's share of the points."""
    from ..backend import select_backend
    from ..montecarlo.throughput import bench_mc
    from ..parallel import Communicator
    m, s = cfg.model, cfg.sampling
    rates = []
    _, compile_seconds = measure(lambda: rates.append(bench_mc(
        Communicator.alone(), select_backend("cpu"), L=min(m.L, 64), dim=m.dim, kind=m.kind, q=m.q,
        algorithm=s.algorithm, sweeps=20)["flips_per_ns"]), repeats=1)
    points, R = busiest(len(s.temperatures) * len(s.fields), ranks), cfg.replicas
    rng = np.random.default_rng(0)
    samples = rng.normal(-1, 0.1, (s.samples // R, R)), rng.random((s.samples // R, R))
    summary_seconds, _ = measure(lambda: point_summary(*samples, m.L ** m.dim, 2.0), repeats=2)
    flips = points * R * m.L ** m.dim * (s.thermalize + s.samples // R * s.interval)
    return TimeEstimate(flips / (rates[-1] * 1e9) + points * summary_seconds, compile_seconds,
                        f"{flips:.3g} flips at {rates[-1]:.3g} flips/ns, {points} point summaries at "
                        f"{summary_seconds * 1e3:.3g} ms")


STAGE = Stage(
    "simulate", files.SAMPLES, sections=("run.seed", "model", "sampling"), compute=compute, needs=needs,
    source=True, arithmetic=False, summary="Monte Carlo stage", limits="model.L, sampling.samples or the grid",
    version=2,
    estimate=estimate,
    required=files.samples_required,
    attrs=lambda cfg: dict(model=cfg.model.kind, dim=cfg.model.dim, L=cfg.model.L, q=cfg.model.q, J=cfg.model.J,
                           replicas=cfg.replicas, sample_order="sample j = round * replicas + replica",
                           algorithm=cfg.sampling.algorithm))

