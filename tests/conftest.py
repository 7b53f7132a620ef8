"""Shared test helpers: running the real CLI, serially and under a real mpiexec, or in this process
(``cli``, for what is refused before any work), one finished tiny run shared by the session
(``tiny_run``), and killing a run mid-way (every process of its session) to test resume."""
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Ranks waiting in MPI give up their core (mpi_yield_when_idle): the tests start more ranks than
# this machine's 2 cores, and spinning ranks made a 3-rank run many times slower (4 s against 90 s).
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_mpi_yield_when_idle": "1", "PYTHONUNBUFFERED": "1"}


def cli_env(extra=None):
    env = dict(os.environ)
    env.update(MPI_ENV)
    env.update(extra or {})
    return env


def hpcrbm_command(args, ranks=None):
    """argv running ``hpcrbm ARGS`` with this interpreter, under mpiexec -n RANKS if given."""
    base = [sys.executable, "-m", "hpcrbm", *map(str, args)]
    if ranks is None:
        return base
    return [shutil.which("mpiexec") or "mpiexec", "--oversubscribe", "-n", str(ranks), *base]


def run_hpcrbm(args, ranks=None, timeout=600, env=None, cwd=None):
    """Run the CLI to completion; returns CompletedProcess (text)."""
    return subprocess.run(hpcrbm_command(args, ranks), capture_output=True, text=True, timeout=timeout,
                          env=cli_env(env), cwd=cwd or ROOT)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``hpcrbm ARGS`` in this process (``hpcrbm.cli.main``, from the repository root): a
    CompletedProcess with its exit status and what it printed. For commands refused before any
    work (the one-line errors, exit 2), without starting an interpreter each time; the process-level
    behaviour (exit status, no traceback) is tested through ``run_hpcrbm`` elsewhere. What main
    sets for a whole process (stop-signal handlers, the hpcrbm logger, BLAS variables) is put back,
    and a crash that would end the process (MPI abort, os._exit) fails the test instead."""
    from hpcrbm.cli import main
    from hpcrbm.parallel import Communicator
    monkeypatch.chdir(ROOT)

    def crash(*args):
        raise AssertionError(f"hpcrbm would have ended the process: {args}")

    def run(args):
        signals = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1)}
        logger = logging.getLogger("hpcrbm")
        logging_state = (list(logger.handlers), logger.level, logger.propagate)
        environ = dict(os.environ)
        capsys.readouterr()
        try:
            with monkeypatch.context() as patch:
                patch.setattr(os, "_exit", crash)
                patch.setattr(Communicator, "abort", crash)
                code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            code = exc.code
        finally:
            for signum, handler in signals.items():
                signal.signal(signum, handler)
            logger.handlers[:] = logging_state[0]
            logger.setLevel(logging_state[1])
            logger.propagate = logging_state[2]
            for name in set(os.environ) - set(environ):
                del os.environ[name]
            os.environ.update(environ)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)
    return run


# One tiny run of every stage (the config of tests/stages/test_stages.py), made once per session
# by ``tiny_run``; a test that changes it works on a copy (copy_run).
TINY_RUN = """
[run]
seed = 31
[model]
dim = 2
L = 4
[sampling]
temperatures = [1.5, 2.27, 3.5]
fields = [0.0]
thermalize = 50
samples = 100
interval = 2
[rbm]
hidden = [4]
batch_size = 50
epochs = 3
learning_rate = 0.05
[thermometer]
epochs = 2
[flow]
steps = 3
samples = 10
"""


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A complete run of TINY_RUN (``hpcrbm run``, every stage) and its config file: (run, config).
    Shared by the session: read it, or change a copy_run of it."""
    root = tmp_path_factory.mktemp("tiny_run")
    config = root / "config.toml"
    config.write_text(TINY_RUN)
    result = run_hpcrbm(["run", config, "--out", root / "run", "--quiet"])
    assert result.returncode == 0, result.stderr
    return root / "run", config


def copy_run(run, target):
    """A copy of the run directory ``run`` at ``target`` (file times kept); returns target."""
    shutil.copytree(run, target)
    return target


@pytest.fixture
def write_config(tmp_path):
    """Write TOML text to a file in tmp_path and return its path."""
    def write(text, name="config.toml"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return write


@pytest.fixture(scope="session")
def runner(tmp_path_factory):
    """The package's CUDA module compiled for the CPU (cuda_emulator.py), built once per session;
    skips without g++."""
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    from .cuda_emulator import build
    return build(tmp_path_factory.mktemp("cuda_emulator"))


needs_mpiexec = pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec (Open MPI)")


def session_processes(sid):
    """Pids of the live processes in session ``sid`` (Linux /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(entry))
    return pids


def kill_session(sid, timeout=10):
    """SIGKILL every process of session ``sid`` and wait until none is left: Open MPI starts its
    ranks in process groups of their own (same session), so killing mpiexec's group misses them."""
    deadline = time.time() + timeout
    while (pids := session_processes(sid)) and time.time() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    assert not session_processes(sid), f"processes of session {sid} survived SIGKILL"


def kill_after_checkpoint(cmd, out, min_checkpoints=2, timeout=120, checkpoint=None):
    """Start cmd in its own session, SIGKILL all its processes (mpiexec and every rank) once
    ``min_checkpoints`` versions of ``checkpoint`` (default: the simulate checkpoint) have appeared."""
    proc = subprocess.Popen(cmd, env=cli_env(), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    checkpoint = checkpoint or out / "checkpoints" / "samples.h5"
    seen, last, deadline = 0, None, time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists():
            stamp = checkpoint.stat().st_mtime_ns
            if stamp != last:
                seen, last = seen + 1, stamp
            if seen >= min_checkpoints:
                break
        time.sleep(0.05)
    alive = proc.poll() is None
    kill_session(proc.pid)
    proc.wait()
    return alive
