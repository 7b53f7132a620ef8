"""The stage protocol: what every stage of a run shares, written once.

A :class:`Stage` names the file it writes, the config sections its results depend on (its
own command may ``--set`` them), and the stages whose files it reads. Its fingerprint, the
attribute ``inputs`` of its file and of its checkpoints, is the canonical TOML of those
sections followed by one line per file it read, ``FILE = <digest of that file's
fingerprint>``: a change anywhere upstream changes the fingerprint of every stage below it
and of nothing else. A stage's file is *current* when it is complete, holds the datasets
its layout requires (io/files.py) and carries the fingerprint the config asks for.

A stage computes on a :class:`Context` (config, communicator, run directory, backend) and
writes its file through :meth:`Context.writing` (one parallel writer, provenance, atomic
rename); the decisions to skip, rebuild or refuse are taken in hpcrbm/pipeline.py.
"""
import contextlib
import hashlib
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from .config import Config, fingerprint, to_toml
from .errors import Stopped
from .io.hdf5 import ParallelFile
from .io.provenance import now, provenance
from .log import get_logger


@dataclass(frozen=True)
class Stage:
    """One stage of a run.

    name: its command (``hpcrbm NAME``); output: its file in the run directory; sections:
    config sections or dotted keys its results depend on; reads: the stages whose files it
    reads; compute(ctx): does the work and writes ``ctx.output`` (collective); required(cfg):
    the datasets a complete output holds; extra_outputs: files written beside it that must
    exist too (summary.json); attrs(cfg): attributes of its file beyond provenance.
    """

    name: str
    output: str
    sections: tuple
    reads: tuple = ()
    compute: Callable = None
    required: Callable = lambda cfg: []
    extra_outputs: tuple = ()
    attrs: Callable = lambda cfg: {}


def digest(text):
    """Short hash of a fingerprint (16 hex digits of SHA-256)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprints(stages, cfg: Config):
    """{stage name: fingerprint text} for ``stages`` in pipeline order (upstream first)."""
    by_name = {s.name: s for s in stages}
    out = {}
    for s in stages:
        lines = [fingerprint(cfg, s.sections)] if s.sections else []
        lines += [f"{by_name[r].output} = {digest(out[r])}" for r in s.reads]
        out[s.name] = "\n".join(lines)
    return out


def _read_header(name, node):
    """A visit of every object: open its header and read its attributes (None: visit on)."""
    dict(node.attrs)


def file_state(path, inputs, required=()):
    """Why ``path`` is not current for ``inputs``, or None when it is: "missing", "unreadable"
    (not HDF5, truncated, or an object's header or attributes damaged), "incomplete", "made
    from another config" or "lacks DATASET"."""
    path = Path(path)
    if not path.exists():
        return "missing"
    try:
        with h5py.File(path, "r") as h5:
            if not h5.attrs.get("complete", False):
                return "incomplete"
            if h5.attrs.get("inputs") != inputs:
                return "made from another config"
            for name in required:
                if name not in h5:
                    return f"lacks /{name}"
            h5.visititems(_read_header)
    except (OSError, KeyError, RuntimeError, ValueError):
        return "unreadable"
    return None


def stored_config_text(path):
    """The resolved config stored in a run file, or None when it has none or cannot be read."""
    try:
        with h5py.File(path, "r") as h5:
            text = h5.attrs.get("config")
    except (OSError, KeyError, RuntimeError):
        return None
    return text if isinstance(text, str) else None


STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)  # what Slurm sends before a time limit
_stop_requests = []  # signal numbers received by this process


def catch_stop_signals():
    """Turn SIGTERM and SIGUSR1 into a stop request, honoured at the next checkpoint check."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda number, frame: _stop_requests.append(number))


class CheckpointTimer:
    """Says, the same on every rank, when to checkpoint: ``run.checkpoint_interval`` seconds of
    wall time since the last checkpoint (rank 0's clock decides), or a stop signal received on
    any rank. Collective: every rank calls :meth:`checkpoint_if_due` the same number of times."""

    def __init__(self, comm, interval):
        self.comm, self.interval, self.last = comm, interval, time.monotonic()

    def checkpoint_if_due(self, save=None):
        """Call ``save()`` (collective) when a checkpoint is due; then raise :class:`Stopped`
        when the cause was a stop signal. Returns whether it saved."""
        elapsed = self.comm.is_root and time.monotonic() - self.last >= self.interval
        late, stop = self.comm.allreduce_sum(np.array([int(elapsed), len(_stop_requests)]))
        if not (late or stop):
            return False
        if save is not None:
            save()
        self.last = time.monotonic()
        if stop:
            raise Stopped(signal.Signals(_stop_requests[0]).name if _stop_requests else "a stop signal")
        return True


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

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        self.start_time = self.start_time or self.comm.bcast_text(now())  # one clock for all ranks

    def path(self, name):
        return self.run_dir / name

    @property
    def output(self):
        return self.path(self.stage.output)

    @property
    def checkpoint_inputs(self):
        """What a stage's checkpoint must match to be resumed: the fingerprint, and on a GPU the
        arithmetic (CUDA's tanh, exp and float sums round differently from NumPy's, so a training
        is never continued on the other kind of device). The Monte Carlo is bit-identical on both."""
        gpu = self.backend is not None and self.backend.name == "gpu"
        return self.inputs + ("\narithmetic = gpu" if gpu else "")

    @property
    def checkpoints(self):
        """The run's checkpoint folder (created by rank 0; collective)."""
        folder = self.path("checkpoints")
        if self.comm.is_root:
            folder.mkdir(parents=True, exist_ok=True)
        self.comm.barrier()
        return folder

    def progress(self, total, initial=0, desc=None, unit="step"):
        """A tqdm bar on rank 0 only, off when stderr is not a terminal or with --quiet."""
        from tqdm import tqdm
        show = self.comm.is_root and not self.quiet and sys.stderr.isatty()
        return tqdm(total=total, initial=initial, disable=not show, desc=desc or self.stage.name, unit=unit)

    def checkpoint_timer(self):
        return CheckpointTimer(self.comm, self.cfg.run.checkpoint_interval)

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

    @contextlib.contextmanager
    def writing(self):
        """A :class:`ParallelFile` at OUTPUT.partial (collective); when the block succeeds the
        file gets its attributes (``complete`` = True, ``end_time``) and is renamed to OUTPUT."""
        f = ParallelFile(self.output.with_name(self.output.name + ".partial"), self.comm, "w")
        yield f  # on an error the process ends (exit 2 on every rank, or abort): nothing is renamed
        f.set_attrs({**self.file_attrs(f.strategy, True), "end_time": self.comm.bcast_text(now())})
        f.commit(self.output)
        get_logger().info("wrote %s", self.output)
