"""A run: its stages in order, the one policy that decides to skip, rebuild or refuse, and the
config of a run directory read back from its files (docs/io.md, "Overwrite and consistency").

Every stage fact comes from the registry (hpcrbm/stages/__init__.py), read at each call.

- A stage whose file is current (hpcrbm/protocol/stage.py) is skipped.
- The source stage's file (samples.h5) is the run's data: one made from another
  ``run.seed``/``[model]``/``[sampling]`` or by other code, or damaged, is never overwritten
  (exit 2), nor is its checkpoint of another config.
- Every other stage's file that is missing, incomplete, damaged or stale (made from other
  settings of its own sections or from other input files) is rebuilt by ``hpcrbm run`` and by
  the stage's own command; its checkpoints of another fingerprint are ignored. A finished file
  of other settings or code is first moved to RUN/replaced/STAMP/ with the files beside it (one
  WARNING line), never deleted.
- A stage's own command needs its input files current; otherwise it stops (exit 2) and names
  the input and the command that rebuilds it. No stage ever reads mixed inputs.
- A stage's own command takes ``--set`` only for its own sections (and run.backend,
  run.checkpoint_interval); its config is the one its input files were made from.
"""
import dataclasses
from pathlib import Path

from .backend import select_backend
from .config import loads, to_toml, toml_value
from .errors import InputError
from .io.lock import run_lock
from .io.provenance import now
from .log import get_logger, warn_all
from .plan import check as check_plan
from .protocol.stage import FOREIGN, Context, file_state, fingerprints, stored_config_text
from .stages import registered, source_stage, stage_named

# not in any stage's sections, so --set by any stage command (run.backend changes the arithmetic,
# which the fingerprints record)
ALWAYS_SETTABLE = ("run.backend", "run.checkpoint_interval")


def arithmetic(cfg, backend=None):
    """The arithmetic a run of ``cfg`` computes with: the backend's name ("cpu" or "gpu")."""
    return (backend or select_backend(cfg.run.backend)).name


def result_path(stage, run_dir):
    """What a user reads of ``stage`` in ``run_dir``: the first file written beside its file
    (summary.json), else its file."""
    return Path(run_dir) / (stage.extra_outputs[0] if stage.extra_outputs else stage.output)


def upstream(stage):
    """The stages ``stage`` depends on, directly or not, in pipeline order."""
    needed, todo = set(), list(stage.reads)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo += stage_named(name).reads
    return [s for s in registered() if s.name in needed]


def stage_state(stage, run_dir, cfg, prints, verify=False):
    """Why ``stage``'s file in ``run_dir`` is not current for the fingerprints ``prints``, or
    None when it is; ``verify``: its datasets' checksums too (reads every value: before a stage
    skips or reads it, not for a status)."""
    reason = file_state(Path(run_dir) / stage.output, prints[stage.name], stage.required(cfg), verify)
    return reason if reason is not None else stage.outputs_state(run_dir, prints[stage.name])


REPLACED = "replaced"  # RUN/replaced/STAMP/: finished files a changed config would have replaced
FOLDERS = ("checkpoints", "figures", REPLACED)  # the run directory's fixed folders


def refuse_foreign(stages, run_dir, comm):
    """Before any work: an HDF5 file of the user's own where a stage writes (no hpcrbm ``stage``
    attribute) is never overwritten, and a file where the run keeps a folder is named; InputError
    (collective)."""
    error = ""
    if comm.is_root:
        for stage in stages:
            path = Path(run_dir) / stage.output
            if path.exists() and file_state(path, "") == FOREIGN:
                error = f"{path}: exists and {FOREIGN}; hpcrbm never overwrites it: move it away or use another " \
                        "run.out (--out)"
                break
        for name in FOLDERS:
            if not error and (Path(run_dir) / name).exists() and not (Path(run_dir) / name).is_dir():
                error = f"{Path(run_dir) / name}: exists and is not a directory; move it away (the run keeps its " \
                        f"{name} there)"
    error = comm.bcast_text(error)
    if error:
        raise InputError(error)


def set_aside(stage, run_dir, stamp, comm):
    """Move ``stage``'s finished file and the files written beside it to RUN/replaced/STAMP/
    (rank 0; collective; STAMP: the command's start, UTC); returns the folder."""
    folder = Path(run_dir) / REPLACED / stamp[:19].replace(":", "-")  # UTC, e.g. 2026-12-06T21-59-02
    error = ""
    if comm.is_root:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name in (stage.output, *stage.extra_outputs):
                if (Path(run_dir) / name).exists():
                    (Path(run_dir) / name).rename(folder / Path(name).name)
        except OSError as exc:
            error = f"{folder}: cannot move the finished {stage.output} there ({exc.strerror}); move it away yourself"
    error = comm.bcast_text(error)
    if error:
        raise InputError(error)
    return folder


def run_stage(stage, cfg, comm, backend, quiet=False, standalone=False):
    """Skip, compute or refuse ``stage`` for ``cfg`` in ``cfg.out_dir`` (collective); returns
    the path of its file. ``standalone``: its own command (inputs must be current)."""
    with run_lock(cfg.out_dir, comm):
        refuse_foreign([stage], cfg.out_dir, comm)
        check_plan(cfg, [stage.name], comm, backend)
        return _run_stage(stage, cfg, comm, backend, quiet, standalone, comm.bcast_text(now()))


def _run_stage(stage, cfg, comm, backend, quiet, standalone, stamp):
    log = get_logger()
    run_dir = cfg.out_dir
    prints = fingerprints(registered(), cfg, backend.name)
    path = run_dir / stage.output
    reason = comm.bcast_text(stage_state(stage, run_dir, cfg, prints, True) or "" if comm.is_root else "")
    if not reason:
        log.info("%s is complete for this config; nothing to do", path)
        return path
    if standalone:
        for up in (stage_named(name) for name in stage.reads):
            why = comm.bcast_text(stage_state(up, run_dir, cfg, prints, True) or "" if comm.is_root else "")
            if why:
                raise InputError(f"{run_dir / up.output}: {why}; run {up.command(run_dir)} first "
                                 f"(or hpcrbm run CONFIG --out {run_dir})")
    if stage.source and reason not in ("missing", "incomplete"):
        if reason == "made from another config":
            raise InputError(f"{path}: exists and was made from a different [model]/[sampling]/seed or by other "
                             "code; use another run.out (--out) or remove it")
        raise InputError(f"{path}: exists but {'is not a readable HDF5 file' if reason == 'unreadable' else reason}; "
                         "remove it to simulate again")
    if reason.startswith("made "):  # a finished result of other settings or code: kept, not replaced
        folder = set_aside(stage, run_dir, stamp, comm)
        warn_all(comm, "%s %s: moved it (and the files beside it) to %s/ and rebuilding it", path, reason, folder)
    elif reason != "missing":
        log.info("%s %s: rebuilding it", path, reason)
    ctx = Context(stage, cfg, comm, backend, run_dir, prints[stage.name], quiet)
    ctx.stop_point()
    stage.compute(ctx)
    return path


def run_all(cfg, comm, backend, quiet=False):
    """Every stage in order for ``cfg`` (collective); returns summary.json's path."""
    with run_lock(cfg.out_dir, comm):  # one writer from the first stage to the last
        refuse_foreign(registered(), cfg.out_dir, comm)
        check_plan(cfg, [s.name for s in registered()], comm, backend)  # before any work: every stage fits
        stamp = comm.bcast_text(now())  # one folder for every file this run sets aside
        for stage in registered():
            _run_stage(stage, cfg, comm, backend, quiet, False, stamp)
    return result_path(registered()[-1], cfg.out_dir)


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
    source = source_stage()
    samples = run_dir / source.output
    cfg = _stored(run_dir, source)
    if cfg is None or file_state(samples, fingerprints([source], cfg)[source.name],
                                 source.required(cfg)) is not None:
        raise InputError(f"{samples}: missing or not a complete hpcrbm {source.output} of this version; "
                         f"run {source.command(run_dir)} first")
    for other in upstream(stage) + [stage]:
        made = _stored(run_dir, other) if other is not source else None
        if made is not None:
            cfg = dataclasses.replace(cfg, **{name: getattr(made, name) for name in other.sections})
    return loads(to_toml(cfg), [*overrides, f"run.out={toml_value(str(run_dir))}"], source=str(samples))


def run_stage_command(name, run_dir, comm, backend=None, overrides=(), quiet=False):
    """``hpcrbm NAME RUN_DIR [--set ...]`` for NAME in train, thermometer, flow, analyze; the
    backend is the run's run.backend (which --set may change) unless one is given."""
    stage = stage_named(name)
    cfg = run_config(run_dir, stage, overrides)
    backend = backend or select_backend(cfg.run.backend, comm)
    run_stage(stage, cfg, comm, backend, quiet, standalone=True)
    return result_path(stage, run_dir)


def run_status(cfg, backend=None):
    """{file name: whether it is current for ``cfg`` computed on ``backend`` (default: the one
    ``run.backend`` selects here)} for every stage, and "done"."""
    prints = fingerprints(registered(), cfg, arithmetic(cfg, backend))
    row = {s.output: stage_state(s, cfg.out_dir, cfg, prints) is None for s in registered()}
    row["done"] = all(row.values())
    return row
