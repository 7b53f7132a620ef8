"""A run: its stages in order, the one policy that decides to skip, rebuild or refuse, and the
config of a run directory read back from its files (docs/io.md, "Overwrite and consistency").

- A stage whose file is current (hpcrbm/stage.py) is skipped.
- samples.h5 is the run's data: a samples.h5 or simulate checkpoint made from another
  ``run.seed``/``[model]``/``[sampling]``, or damaged, is never overwritten (exit 2).
- Every other stage's file that is missing, incomplete, damaged or stale (made from other
  settings of its own sections or from other input files) is rebuilt by ``hpcrbm run`` and by
  the stage's own command; its checkpoints of another fingerprint are ignored.
- A stage's own command needs its input files current; otherwise it stops (exit 2) and names
  the input and the command that rebuilds it. No stage ever reads mixed inputs.
- A stage's own command takes ``--set`` only for its own sections (and run.backend,
  run.checkpoint_interval); its config is the one its input files were made from.
"""
import dataclasses
from pathlib import Path

from .analysis.stage import STAGE as ANALYZE
from .config import loads, to_toml, toml_value
from .errors import InputError
from .flow.stage import STAGE as FLOW
from .io import files
from .io.lock import run_lock
from .log import get_logger
from .montecarlo.stage import STAGE as SIMULATE
from .plan import check as check_plan
from .rbm.stage import STAGE as TRAIN
from .stage import Context, file_state, fingerprints, stored_config_text
from .thermometers.stage import STAGE as THERMOMETER

STAGES = (SIMULATE, TRAIN, THERMOMETER, FLOW, ANALYZE)
BY_NAME = {s.name: s for s in STAGES}
ALWAYS_SETTABLE = ("run.backend", "run.checkpoint_interval")  # change no result


def upstream(stage):
    """The stages ``stage`` depends on, directly or not, in pipeline order."""
    needed, todo = set(), list(stage.reads)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo += BY_NAME[name].reads
    return [s for s in STAGES if s.name in needed]


def stage_state(stage, run_dir, cfg, prints=None):
    """Why ``stage``'s file in ``run_dir`` is not current for ``cfg``, or None when it is."""
    prints = prints or fingerprints(STAGES, cfg)
    reason = file_state(Path(run_dir) / stage.output, prints[stage.name], stage.required(cfg))
    for name in stage.extra_outputs:
        if reason is None and not (Path(run_dir) / name).exists():
            reason = f"has no {name} beside it"
    return reason


def rebuild_command(stage, run_dir):
    if stage is SIMULATE:
        return f"hpcrbm simulate CONFIG --out {run_dir}"
    return f"hpcrbm {stage.name} {run_dir}"


def run_stage(stage, cfg, comm, backend, quiet=False, standalone=False):
    """Skip, compute or refuse ``stage`` for ``cfg`` in ``cfg.out_dir`` (collective); returns
    the path of its file. ``standalone``: its own command (inputs must be current)."""
    with run_lock(cfg.out_dir, comm):
        check_plan(cfg, [stage.name], comm, backend)
        return _run_stage(stage, cfg, comm, backend, quiet, standalone)


def _run_stage(stage, cfg, comm, backend, quiet, standalone):
    log = get_logger()
    run_dir = cfg.out_dir
    prints = fingerprints(STAGES, cfg)
    path = run_dir / stage.output
    reason = comm.bcast_text(stage_state(stage, run_dir, cfg, prints) or "" if comm.is_root else "")
    if not reason:
        log.info("%s is complete for this config; nothing to do", path)
        return path
    if standalone:
        for up in (BY_NAME[name] for name in stage.reads):
            why = comm.bcast_text(stage_state(up, run_dir, cfg, prints) or "" if comm.is_root else "")
            if why:
                raise InputError(f"{run_dir / up.output}: {why}; run {rebuild_command(up, run_dir)} first "
                                 f"(or hpcrbm run CONFIG --out {run_dir})")
    if stage is SIMULATE and reason not in ("missing", "incomplete"):
        if reason == "made from another config":
            raise InputError(f"{path}: exists and was made from a different [model]/[sampling]/seed; "
                             "use another run.out (--out) or remove it")
        raise InputError(f"{path}: exists but {'is not a readable HDF5 file' if reason == 'unreadable' else reason}; "
                         "remove it to simulate again")
    if reason != "missing":
        log.info("%s %s: rebuilding it", path, reason)
    ctx = Context(stage, cfg, comm, backend, run_dir, prints[stage.name], quiet)
    ctx.stop_point()
    stage.compute(ctx)
    return path


def run_all(cfg, comm, backend, quiet=False):
    """Every stage in order for ``cfg`` (collective); returns summary.json's path."""
    with run_lock(cfg.out_dir, comm):  # one writer from the first stage to the last
        check_plan(cfg, [s.name for s in STAGES], comm, backend)  # before any work: every stage fits
        for stage in STAGES:
            _run_stage(stage, cfg, comm, backend, quiet, standalone=False)
    return files.summary_path(cfg.out_dir)


def _stored(run_dir, stage):
    """The config stored in ``stage``'s file of ``run_dir``, or None."""
    text = stored_config_text(Path(run_dir) / stage.output)
    if text is None:
        return None
    try:
        return loads(text, source=str(Path(run_dir) / stage.output))
    except InputError:  # written by another version of hpcrbm: treated as stale
        return None


def _check_settable(stage, overrides):
    own = {key.split(".")[0] for key in stage.sections}
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        if key.split(".")[0] not in own and key not in ALWAYS_SETTABLE:
            settable = [f"[{s}] keys" for s in sorted(own)] + list(ALWAYS_SETTABLE)
            raise InputError(f"--set {key}: hpcrbm {stage.name} sets only {', '.join(settable)}; "
                             "change other sections with hpcrbm run CONFIG")


def run_config(run_dir, stage, overrides=()):
    """The config of RUN_DIR for ``stage``'s own command: samples.h5's, with the sections of
    every stage upstream of ``stage`` (and of ``stage`` itself) taken from that stage's file
    where it exists, then ``--set`` overrides of ``stage``'s own sections."""
    run_dir = Path(run_dir)
    _check_settable(stage, overrides)
    samples = run_dir / files.SAMPLES
    cfg = _stored(run_dir, SIMULATE)
    if cfg is None or file_state(samples, fingerprints([SIMULATE], cfg)["simulate"],
                                 SIMULATE.required(cfg)) is not None:
        raise InputError(f"{samples}: missing or not a complete hpcrbm samples file; "
                         f"run {rebuild_command(SIMULATE, run_dir)} first")
    for other in upstream(stage) + [stage]:
        made = _stored(run_dir, other) if other is not SIMULATE else None
        if made is not None:
            cfg = dataclasses.replace(cfg, **{name: getattr(made, name) for name in other.sections})
    return loads(to_toml(cfg), [*overrides, f"run.out={toml_value(str(run_dir))}"], source=str(samples))


def run_stage_command(name, run_dir, comm, backend=None, overrides=(), quiet=False):
    """``hpcrbm NAME RUN_DIR [--set ...]`` for NAME in train, thermometer, flow, analyze; the
    backend is the run's run.backend (which --set may change) unless one is given."""
    from .backend import select_backend
    stage = BY_NAME[name]
    cfg = run_config(run_dir, stage, overrides)
    backend = backend or select_backend(cfg.run.backend, comm)
    path = run_stage(stage, cfg, comm, backend, quiet, standalone=True)
    return files.summary_path(run_dir) if stage is ANALYZE else path


def run_status(cfg):
    """{file name: whether it is current for ``cfg``} for every stage, and "done"."""
    prints = fingerprints(STAGES, cfg)
    row = {s.output: stage_state(s, cfg.out_dir, cfg, prints) is None for s in STAGES}
    row["done"] = all(row.values())
    return row
