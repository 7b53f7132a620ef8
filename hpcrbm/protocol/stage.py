"""The stage protocol: what every stage of a run shares, written once.

A :class:`Stage` names the file it writes, the config sections its results depend on (its
own command may ``--set`` them), and the stages whose files it reads. Its fingerprint, the
attribute ``inputs`` of its file and of its checkpoints, is the canonical TOML of those
sections, its code's results version (``code = NAME vN``), the arithmetic where its numbers
depend on it (``arithmetic = cpu|gpu``), then one line per file it read, ``FILE = <digest of that
file's fingerprint>``: a change anywhere upstream changes the fingerprint of every stage below it
and of nothing else. A stage's file is *current* when it is complete, holds the datasets
its layout requires (io/files.py) and carries the fingerprint the config asks for.

A stage computes on a :class:`Context` (config, communicator, run directory, backend) and
writes its file through :meth:`Context.writing` (one parallel writer, provenance, atomic
rename) and keeps its resumable state in :meth:`Context.checkpoint`; the decisions to skip,
rebuild or refuse are taken in hpcrbm/pipeline.py.
"""
import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py

from ..config import Config, fingerprint, to_toml
from ..io.checksums import damaged_dataset
from ..io.hdf5 import ParallelFile
from ..io.provenance import now, provenance
from ..log import get_logger
from .checkpoint import Checkpoint, CheckpointTimer
from .progress import Progress


@dataclass
class StageNeeds:
    """What a stage needs, from the config alone (``hpcrbm plan``): peak bytes of its large arrays
    on the busiest rank, the bytes of each file it writes (checkpoints included, while they
    exist), what it does in the units the time estimate uses, and its bytes on a GPU."""

    name: str
    memory: int
    disk: dict = field(default_factory=dict)  # file name in the run directory -> bytes
    work: str = ""
    device: int = 0


@dataclass(frozen=True)
class TimeEstimate:
    """A stage's expected wall seconds on ``ranks`` ranks: ``seconds`` of work, ``compile`` the
    first calls' extra seconds (numba compiling its kernels on a cold cache, loading them on a warm
    one: every run pays it), and ``basis``: what was measured and multiplied."""
    seconds: float
    compile: float = 0.0
    basis: str = ""


def measure(step, repeats=3):
    """(seconds of one call of ``step()`` once warm, the first call's extra seconds: compiling on
    a cold kernel cache)."""
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return best, max(first - best, 0.0)


def busiest(n_items, ranks):
    """Items of the busiest rank when ``n_items`` are split over ``ranks``."""
    return -(-n_items // ranks)


def job_owners(costs, ranks):
    """The rank of each job (list of costs): the costliest job first, each to the least loaded
    rank (ties to the lower rank); the same on every rank."""
    load, owners = [0.0] * ranks, [0] * len(costs)
    for j in sorted(range(len(costs)), key=lambda j: (-costs[j], j)):
        owners[j] = min(range(ranks), key=lambda rank: (load[rank], rank))
        load[owners[j]] += costs[j]
    return owners


@dataclass(frozen=True)
class Stage:
    """One stage of a run, declared once in its module under hpcrbm/stages/ and listed in the
    registry (hpcrbm/stages/__init__.py); the pipeline, the plan, campaigns and the command line
    read every stage fact from here.

    name: its command (``hpcrbm NAME``); output: its file in the run directory; sections: config
    sections or dotted keys its results depend on; reads: the stages whose files it reads;
    compute(ctx): does the work and writes ``ctx.output`` (collective); required(cfg): the
    datasets a complete output holds; extra_outputs: files written beside it (summary.json);
    outputs_state(run_dir, inputs): why the files written beside a current output are not its own
    (missing, damaged, copied from elsewhere), or None; attrs(cfg): attributes of its file beyond
    provenance; needs(cfg, ranks,
    upstream): its :class:`StageNeeds` on ``ranks`` ranks, given {name: StageNeeds} of the stages
    before it; limits: the config keys that bound its needs (named when it cannot fit);
    summary: one line for ``--help``; version: the results version of its code, raised by every
    change that alters its numbers (part of its fingerprint: files of older code are rebuilt);
    arithmetic: whether its numbers depend on the backend's arithmetic (CPU or GPU rounding),
    also part of its fingerprint; estimate(cfg, ranks): its :class:`TimeEstimate` on the CPU, from
    a short measurement of its inner step on this machine (``hpcrbm plan``); source: the run's
    data, made from a config file and never overwritten (``hpcrbm NAME CONFIG``) rather than from
    a run directory (``hpcrbm NAME RUN_DIR``).
    """

    name: str
    output: str
    sections: tuple
    reads: tuple = ()
    compute: Callable = None
    required: Callable = lambda cfg: []
    extra_outputs: tuple = ()
    outputs_state: Callable = lambda run_dir, inputs: None
    attrs: Callable = lambda cfg: {}
    needs: Callable = None
    limits: str = ""
    summary: str = ""
    version: int = 1
    arithmetic: bool = True
    estimate: Callable = None
    source: bool = False

    def command(self, run_dir):
        """The command that (re)builds this stage's file in ``run_dir``."""
        return f"hpcrbm {self.name} CONFIG --out {run_dir}" if self.source else f"hpcrbm {self.name} {run_dir}"


def digest(text):
    """Short hash of a fingerprint (16 hex digits of SHA-256)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprints(stages, cfg: Config, arithmetic="cpu"):
    """{stage name: fingerprint text} for ``stages`` in pipeline order (upstream first): the
    canonical TOML of its sections, its code's results version, the arithmetic (``"cpu"`` or
    ``"gpu"``, the backend's name) where its numbers depend on it, and one line per file it reads
    with the digest of that file's fingerprint."""
    by_name = {s.name: s for s in stages}
    out = {}
    for s in stages:
        lines = [fingerprint(cfg, s.sections)] if s.sections else []
        lines.append(f"code = {s.name} v{s.version}")
        if s.arithmetic:
            lines.append(f"arithmetic = {arithmetic}")
        lines += [f"{by_name[r].output} = {digest(out[r])}" for r in s.reads]
        out[s.name] = "\n".join(lines)
    return out


def _read_header(name, node):
    """A visit of every object: open its header and read its attributes (None: visit on)."""
    dict(node.attrs)


def _fingerprint_line(text, key):
    lines = text.splitlines() if isinstance(text, str) else []
    return next((line.split(" = ", 1)[1] for line in lines if line.startswith(key + " = ")), None)


def _difference(stored, wanted):
    """Why a file's fingerprint ``stored`` is not ``wanted``: other code, another device's
    arithmetic, or (else) another config."""
    code = _fingerprint_line(stored, "code")
    if code != _fingerprint_line(wanted, "code"):
        now = _fingerprint_line(wanted, "code")
        return f"made by other code ({code or 'no results version'}; this code makes {now})"
    arithmetic = _fingerprint_line(stored, "arithmetic")
    if arithmetic != _fingerprint_line(wanted, "arithmetic"):
        return f"made with {arithmetic} arithmetic (this run computes on {_fingerprint_line(wanted, 'arithmetic')})"
    return "made from another config"


FOREIGN = "was not written by hpcrbm (no stage attribute)"


def file_state(path, inputs, required=(), verify=False):
    """Why ``path`` is not current for ``inputs``, or None when it is: "missing", "unreadable"
    (not HDF5, truncated, or an object's header or attributes damaged), FOREIGN (an HDF5 file
    without hpcrbm's ``stage`` attribute: a user's own, never overwritten), "incomplete", "made
    by other code (...)", "made with ... arithmetic (...)", "made from another config", "lacks
    DATASET" or, with ``verify`` (reads every value), "damaged (/DATASET fails its checksum)"."""
    path = Path(path)
    if not path.exists():
        return "missing"
    try:
        with h5py.File(path, "r") as h5:
            if "stage" not in h5.attrs:
                return FOREIGN
            if not h5.attrs.get("complete", False):
                return "incomplete"
            if h5.attrs.get("inputs") != inputs:
                return _difference(h5.attrs.get("inputs"), inputs)
            for name in required:
                if name not in h5:
                    return f"lacks /{name}"
            h5.visititems(_read_header)
            damaged = damaged_dataset(h5) if verify else None
    except (OSError, KeyError, RuntimeError, ValueError):
        return "unreadable"
    return f"damaged (/{damaged} fails its checksum)" if damaged else None


def stored_config_text(path):
    """The resolved config stored in a run file, or None when it has none or cannot be read."""
    try:
        with h5py.File(path, "r") as h5:
            text = h5.attrs.get("config")
    except (OSError, KeyError, RuntimeError):
        return None
    return text if isinstance(text, str) else None


@dataclass
class Context:
    """What a stage computes on: the resolved config, the run's one communicator, the run
    directory, the array backend and this stage's fingerprint."""

    stage: Stage
    cfg: Config
    comm: object
    backend: object
    run_dir: Path
    inputs: str
    quiet: bool = False
    start_time: str = field(default="")
    previous_seconds: float = 0.0  # compute seconds of earlier segments of this stage (its checkpoints')

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        self.start_time = self.start_time or self.comm.bcast_text(now())  # one clock for all ranks
        self._started = time.monotonic()

    def stage_seconds(self):
        """Compute seconds of this stage so far: earlier segments (a resumed stage) and this one."""
        return self.previous_seconds + time.monotonic() - self._started

    def path(self, name):
        return self.run_dir / name

    @property
    def output(self):
        return self.path(self.stage.output)

    @property
    def checkpoints(self):
        """The run's checkpoint folder (created by rank 0; collective)."""
        folder = self.path("checkpoints")
        if self.comm.is_root:
            folder.mkdir(parents=True, exist_ok=True)
        self.comm.barrier()
        return folder

    def progress(self, total, initial=0, desc=None, unit="step"):
        """The :class:`~.progress.Progress` of ``total`` items on rank 0 of this context's
        communicator (a tqdm bar on a terminal, else log lines at a bounded rate; nothing with
        --quiet)."""
        return Progress(total, initial, desc or self.stage.name, unit, self.comm.is_root and not self.quiet)

    def checkpoint(self, name, extra="", comm=None):
        """The stage's checkpoint ``checkpoints/NAME`` (:class:`~.checkpoint.Checkpoint`), valid for
        this stage's fingerprint plus ``extra``, kept by ``comm`` (default: the run's)."""
        checkpoint = Checkpoint(self.checkpoints / name, self.inputs + extra, comm or self.comm,
                                self.cfg.run.checkpoint_interval, self.stage_seconds)
        self.previous_seconds = max(self.previous_seconds, checkpoint.stored_seconds())
        return checkpoint

    def stop_point(self):
        """Raise :class:`Stopped` when a stop signal arrived on any rank (collective), for work
        that keeps no checkpoint: that stage starts again on resume."""
        CheckpointTimer(self.comm, float("inf")).checkpoint_if_due()

    def file_attrs(self, strategy, complete):
        """Provenance, stage, config and fingerprint attributes (identical on every rank)."""
        attrs = provenance(self.comm, self.backend, self.cfg.run.seed, self.start_time, strategy)
        attrs.update(stage=self.stage.name, config=to_toml(self.cfg), inputs=self.inputs, complete=complete,
                     **self.stage.attrs(self.cfg))
        return attrs

    @property
    def partial(self):
        """OUTPUT.partial: where the stage's file is written until it is complete."""
        return self.output.with_name(self.output.name + ".partial")

    @contextlib.contextmanager
    def writing(self, file_class=ParallelFile, append=False):
        """A ``file_class`` (:class:`ParallelFile`) at OUTPUT.partial (collective); when the block
        succeeds the file gets its attributes (``complete`` = True, ``end_time``) and is renamed
        to OUTPUT. ``append``: open the partial file that :meth:`start_partial` created and an
        earlier segment of the stage filled (its provenance is kept)."""
        f = file_class(self.partial, self.comm, "r+" if append else "w")
        yield f  # on an error the process ends (exit 2 on every rank, or abort): nothing is renamed
        attrs = {"complete": True} if append else self.file_attrs(f.strategy, True)
        seconds = round(float(self.comm.bcast_number(self.stage_seconds())), 3)  # rank 0's clock, every segment
        f.set_attrs({**attrs, "end_time": self.comm.bcast_text(now()), "seconds": seconds})
        f.commit(self.output, checksums=True)
        get_logger().info("wrote %s", self.output)

    def start_partial(self, file_class=ParallelFile):
        """OUTPUT.partial created with its provenance and ``complete`` = False, open (collective):
        for a stage that fills its file over several segments and ends with
        ``writing(append=True)``."""
        f = file_class(self.partial, self.comm, "w")
        f.set_attrs(self.file_attrs(f.strategy, complete=False))
        return f
