"""The flow stage: ``hpcrbm flow RUN_DIR`` flows every trained RBM from every start and
measures each step with physics thermometers; writes ``flow.h5``.

Starts (``flow.starts``): "mc" = the first ``flow.samples`` Monte Carlo configurations of every
(T, H) point; "up" and "random" = ``flow.samples`` all-up (state 0) or uniformly random
configurations, one start per field. Start s, chain i has the global chain id
s * flow.samples + i, so the flows do not depend on the rank count (ranks split the starts).

flow.h5 (layout in io/files.py): ``/starts/kind`` ("mc", "up", "random"), ``/starts/temperature`` (NaN unless "mc"),
``/starts/field_index``; per RBM and mode ``/flow/{key}/{mode}/NAME`` (key: io.files.rbm_key, or
control_random, control_extremes)
(n_starts, steps + 1):
energy, abs_magnetization, binder (+ ``_err``) of the sampled spins; for mean-field flows also
probability_energy, probability_abs_magnetization (+ ``_err``) of the probabilities;
temperature_energy, temperature_magnetization (+ ``_err``): the physics thermometers' readings;
temperature_{energy, magnetization, nn}_inside: 1.0 where the reading lies inside the thermometer's
range, 0.0 where it is clipped at an end of it (the ensemble is hotter or colder than any the
thermometer knows: no temperature);
temperature_nn (+ ``_err``), the neural thermometer's mean prediction, and nn_histogram
(n_starts, steps + 1, nT), the counts of its predictions
(energy: the exact u(T) of the same model and L where one applies, exact/reference.py, else the
Monte Carlo u(T) of samples.h5 at that field; |m|: the Monte Carlo |m|(T)).
Synthetic starts ("up", "random") draw from the INITIAL_STATE stream at point
SYNTHETIC_POINTS + s, outside the grid's points (rng/streams.py). Each rank writes the rows of
its own starts. Every ``run.checkpoint_interval`` (or on a stop signal) the rows of the starts done
so far go to checkpoints/flow.h5 (same datasets, plus ``/done``); a resume, on any number of
ranks, computes only the others.
"""
import numpy as np

from ..backend import to_host
from ..flow.flows import flow, probability_observables, spins_from_visible
from ..io import files
from ..log import get_logger
from ..montecarlo.models import make_model
from ..protocol.stage import Stage, StageNeeds, TimeEstimate, busiest, measure
from ..rbm.model import RBMParams, encode
from ..rng.streams import SYNTHETIC_POINTS, rbm_point
from ..stats import point_summary
from ..thermometers.curve import physics_thermometers
from ..thermometers.neural import MLP, layer_widths, parameter_bytes, read_temperature

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


def start_visible(cfg, kind, iT, iH, samples_path, model, start_index):
    """Initial visible vectors (flow.samples, units) of one start."""
    n, q = cfg.flow.samples, cfg.model.q
    if kind == "mc":
        configs = files.read_point_configs(samples_path, iT, iH, n)
    elif kind == "up":
        configs = model.initial_state(cfg.run.seed, 0, n, "up")
    else:
        configs = model.initial_state(cfg.run.seed, SYNTHETIC_POINTS + start_index, n, "random")
    return encode(configs, cfg.rbm.visible, q, np.float64)


def flow_names(mode):
    """Names of the per-step arrays of one flow, in file order."""
    base = list(MEASURES) + (["probability_energy", "probability_abs_magnetization"] if mode == "mean-field" else [])
    base += ["temperature_energy", "temperature_magnetization", "temperature_nn"]
    inside = [f"temperature_{label}_inside" for label in ("energy", "magnetization", "nn")]
    return sorted(base + [f"{n}_err" for n in base] + inside)


def stream_point(key, params):
    """The FLOW stream's work item for an RBM: Nh + 2**16 * training seed (controls: Nh)."""
    if key.startswith("control_"):
        return params.n_hidden
    nh, seed, _ = files.parse_rbm_key(key)
    return rbm_point(nh, seed)


def flow_start(cfg, params, model, v0, field, chain_ids, mode, thermo, nn, point=None, runner=None):
    """Observables and thermometer readings of one start's flow: name -> (steps + 1,) array,
    plus "nn_histogram" (steps + 1, nT): counts of the neural thermometer's predictions. With a
    ``runner`` the chains, their measurement and the neural thermometer (``nn``'s arrays there)
    run on its device; only each step's per-chain energies and magnetisations come to the host."""
    shape, N = model.lattice_shape, model.n_sites
    ising = cfg.model.kind == "ising"
    rows = {}
    for _, probs, v in flow(params, v0, cfg.flow.steps, mode, cfg.run.seed, chain_ids, point, runner):
        spins = spins_from_visible(v, params, shape, ising)
        e, m = (to_host(x) for x in model.measure(spins, field))
        stats = point_summary(e.reshape(1, -1), m.reshape(1, -1), N, 1.0)
        values = {name: stats[name][0] for name in MEASURES}
        values.update({f"{name}_err": stats[name][1] for name in MEASURES})
        if mode == "mean-field":  # at step 0 (no probabilities yet) the start's own observables
            pe, pm = (tuple(to_host(x) for x in probability_observables(probs, params.q, model, shape, field))
                      if probs is not None else (e, m))
            for name, x in (("probability_energy", pe), ("probability_abs_magnetization", np.abs(pm))):
                values[name] = float(np.mean(x))
                values[f"{name}_err"] = float(np.std(x) / np.sqrt(len(x)))
        for label, thermometer, key in (("energy", thermo[0], "energy"), ("magnetization", thermo[1],
                                                                          "abs_magnetization")):
            t, dt, inside = thermometer.read(values[key], values[f"{key}_err"])
            values[f"temperature_{label}"], values[f"temperature_{label}_err"] = float(t), float(dt)
            values[f"temperature_{label}_inside"] = float(inside)
        t, dt, histogram = read_temperature(nn, v, cfg.sampling.temperatures)
        values["temperature_nn"], values["temperature_nn_err"] = t, dt
        values["temperature_nn_inside"] = float(min(cfg.sampling.temperatures) < t < max(cfg.sampling.temperatures))
        rows.setdefault("nn_histogram", []).append(histogram)
        for name, value in values.items():
            rows.setdefault(name, []).append(value)
    return {name: np.asarray(v) for name, v in rows.items()}


def compute(ctx):
    """Compute the flow stage on ``ctx`` (collective): flow.h5."""
    cfg, comm = ctx.cfg, ctx.comm
    log = get_logger()
    samples_path = ctx.path(files.SAMPLES)
    stored = {key: RBMParams(*(a.astype(np.float64) for a in (W, b, c)), q)
              for key, (W, b, c, q) in files.read_rbms(ctx.path(files.RBM)).items()}
    runner, xp = ctx.backend.runner, ctx.backend.xp  # None and NumPy on the CPU
    nn = [MLP.from_arrays(arrays).on(xp)
          for arrays in files.read_thermometer_arrays(ctx.path(files.THERMOMETER), len(cfg.sampling.fields))]
    model = make_model(cfg.model)
    mc = files.read_samples_summary(samples_path)
    thermo = [physics_thermometers(cfg.model, H, mc["temperatures"], mc["energy"][:, iH],
                                   mc["abs_magnetization"][:, iH]) for iH, H in enumerate(cfg.sampling.fields)]
    starts = starts_table(cfg)
    lo, hi = comm.slice(len(starts))
    modes = ("mean-field", "sample") if cfg.flow.mode == "both" else (cfg.flow.mode,)
    trained = files.trained_keys(cfg)
    keys = trained + [files.rbm_key(*files.parse_rbm_key(k)[:2], e) for k in trained for e in cfg.rbm.snapshots] + \
        sorted(k for k in stored if k.startswith("control_"))
    pairs = [(key, mode) for key in keys for mode in modes]
    layout = _layout(cfg, pairs, len(starts))
    checkpoint = ctx.checkpoint(files.FLOW)
    rows = checkpoint.read(lambda h5: _read_rows(h5, layout, pairs, lo, hi)) or {}  # start -> {(key, mode): row}
    if rows:
        log.info("resuming from %s with %d of this rank's %d starts done", checkpoint.path, len(rows), hi - lo)
    most = -(-len(starts) // comm.size)  # starts of the busiest rank: every rank checks as often
    progress = ctx.progress(hi - lo, len(rows), f"flow ({len(pairs)} RBM x mode per start)", "start")
    for s in range(lo, lo + most):
        if s < hi and s not in rows:
            kind, iT, iH = starts[s]
            v0 = start_visible(cfg, kind, iT, iH, samples_path, model, s)  # once for every RBM and mode
            ids = s * cfg.flow.samples + np.arange(cfg.flow.samples)
            rows[s] = {(key, mode): flow_start(cfg, stored[key], model, v0, cfg.sampling.fields[iH], ids, mode,
                                               thermo[iH], nn[iH], stream_point(key, stored[key]), runner)
                       for key, mode in pairs}
            progress.update(1)
        if s + 1 < lo + most:
            checkpoint.save_if_due(lambda: checkpoint.write_parallel(lambda f: _write_done(f, layout, rows)))
    progress.close()
    with ctx.writing() as f:
        files.write_starts(f, [k for k, _, _ in starts],
                           [cfg.sampling.temperatures[t] if t >= 0 else np.nan for _, t, _ in starts],
                           [h for _, _, h in starts], cfg.sampling.fields)
        _write_rows(f, layout, rows)
        log.info("flowed %s from %d starts", ", ".join(keys), len(starts))
    checkpoint.remove()


def _layout(cfg, pairs, n_starts):
    """{dataset: (shape, dtype, (key, mode), name in a row)} of every flow row:
    /flow/{key}/{mode}/NAME (n_starts, steps + 1) and nn_histogram (n_starts, steps + 1, nT)."""
    n_steps, nT = cfg.flow.steps + 1, len(cfg.sampling.temperatures)
    layout = {}
    for pair in pairs:
        group = files.flow_group(*pair)
        for name in flow_names(pair[1]):
            layout[f"{group}/{name}"] = ((n_starts, n_steps), np.float64, pair, name)
        layout[f"{group}/nn_histogram"] = ((n_starts, n_steps, nT), np.int64, pair, "nn_histogram")
    return layout


def _runs(starts):
    """Sorted start indices as runs of consecutive ones: [[a, a + 1, ...], ...]."""
    done = sorted(starts)
    return [list(map(int, g)) for g in np.split(done, np.flatnonzero(np.diff(done) != 1) + 1)] if done else []


def _write_rows(f, layout, rows):
    """Create every dataset of ``layout`` in ``f`` and write this rank's ``rows`` (start ->
    {(key, mode): row}) into it, one block per run of consecutive starts (collective)."""
    runs = _runs(rows)
    for name, (shape, dtype, pair, field_name) in layout.items():
        f.create(name, shape, dtype)
        f.write_blocks(name, [((), run[0], run[-1] + 1, np.array([rows[s][pair][field_name] for s in run], dtype))
                              for run in runs])


def _write_done(f, layout, rows):
    """The checkpoint's content: every start done so far, its rows and ``done`` = 1 (collective)."""
    n_starts = next(iter(layout.values()))[0][0]
    _write_rows(f, layout, rows)
    f.create(files.DONE, (n_starts,), np.int8)
    f.write_blocks(files.DONE, [((), run[0], run[-1] + 1, np.ones(len(run), np.int8)) for run in _runs(rows)])


def _read_rows(h5, layout, pairs, lo, hi):
    """{start: {(key, mode): row}} of this rank's starts [lo, hi) done in the checkpoint."""
    done = lo + np.flatnonzero(h5[files.DONE][lo:hi])
    block = {name: h5[name][lo:hi] for name in layout}
    rows = {int(s): {pair: {} for pair in pairs} for s in done}
    for name, (_, _, pair, field_name) in layout.items():
        for s in rows:
            rows[s][pair][field_name] = block[name][s - lo]
    return rows


def needs(cfg, ranks, upstream):
    """The rows of the busiest rank's starts (and a copy), the chains of one flow, an RBM and the
    thermometers; flow.h5."""
    m, s, r, f = cfg.model, cfg.sampling, cfg.rbm, cfg.flow
    visible = m.L ** m.dim * (1 if r.visible == "bernoulli" else m.q)
    itemsize = np.dtype(r.dtype).itemsize
    largest_w = max(r.hidden) * visible * itemsize
    widths = layer_widths(cfg)
    mlp = parameter_bytes(widths)
    starts = len(starts_table(cfg))
    modes = ("mean-field", "sample") if f.mode == "both" else (f.mode,)
    flowed = len(r.hidden) * r.seeds * (1 + len(r.snapshots)) + 2 * len(r.hidden)
    rows = sum(len(flow_names(mode)) for mode in modes) + len(modes) * len(s.temperatures)
    flow_bytes = flowed * starts * (f.steps + 1) * rows * 8
    return StageNeeds("flow", busiest(starts, ranks) * flow_bytes // max(starts, 1) * 2
                      + 8 * 6 * f.samples * visible + 4 * largest_w + len(s.fields) * mlp,
                      {files.FLOW: flow_bytes},
                      f"{flowed * starts * len(modes) * f.steps * f.samples:.3g} chain steps",
                      device=8 * 6 * f.samples * (visible + max(r.hidden)) + 8 * largest_w // itemsize * 3
                      + 8 * 3 * 64 * sum(widths) + len(s.fields) * mlp)


def estimate(cfg, ranks):
    """One start's flow (flow.samples chains, the largest N_h, random weights, the thermometers'
    readings included) timed over two steps, times the steps, the busiest rank's starts and every
    RBM and mode."""
    import dataclasses

    from ..thermometers.neural import init_mlp
    m, r, s = cfg.model, cfg.rbm, cfg.sampling
    rng = np.random.default_rng(0)
    top, n_sites = max(r.hidden), m.L ** m.dim
    q = m.q if r.visible == "categorical" else 0
    W = rng.normal(0, 0.1, (top, n_sites, q) if q else (top, n_sites))
    params = RBMParams(W, np.zeros(W.shape[1:]), np.zeros(top), q)
    states = rng.integers(0, max(q, 2), (cfg.flow.samples, n_sites))
    v0 = encode(states, r.visible, m.q, np.float64) if q else states.astype(np.float64)
    T = np.asarray(s.temperatures, float)
    thermo = physics_thermometers(m, s.fields[0], T, np.linspace(-2, -0.2, len(T)), np.linspace(1, 0.05, len(T)))
    nn = init_mlp(v0.shape[1], cfg.thermometer.hidden, len(T), cfg.run.seed, 0)
    short = dataclasses.replace(cfg, flow=dataclasses.replace(cfg.flow, steps=2))
    modes = ("mean-field", "sample") if cfg.flow.mode == "both" else (cfg.flow.mode,)
    seconds, compile_seconds = measure(lambda: [flow_start(short, params, make_model(m), v0, s.fields[0],
                                                           np.arange(len(v0)), mode, thermo, nn) for mode in modes],
                                       repeats=2)
    per_step = seconds / 3 / len(modes)  # steps 0, 1, 2
    # every RBM costs about the same per step: measuring and reading the thermometers dominate the products
    rbms = [1.0 for _ in r.hidden for _ in range(r.seeds)] * (1 + len(r.snapshots)) + [1.0, 1.0]  # + controls
    starts = busiest(len(starts_table(cfg)), ranks)
    return TimeEstimate(per_step * (cfg.flow.steps + 1) * starts * sum(rbms) * len(modes), compile_seconds,
                        f"{starts} starts x {len(rbms)} RBMs x {len(modes)} modes x {cfg.flow.steps + 1} steps "
                        f"at {per_step * 1e3:.3g} ms (N_h = {top})")


STAGE = Stage("flow", files.FLOW, sections=("flow",), reads=("simulate", "train", "thermometer"),
              compute=compute, required=files.flow_required, estimate=estimate,
              needs=needs, summary="flow stage: iterates the trained RBMs from every start",
              limits="flow.samples, flow.steps, flow.starts or rbm.hidden", version=2,
              attrs=lambda cfg: dict(steps=cfg.flow.steps, chains_per_start=cfg.flow.samples))
