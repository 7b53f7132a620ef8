"""Shared test helpers: running the real CLI, serially and under a real mpiexec, and killing a
run mid-way (every process of its session) to test resume."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1", "PYTHONUNBUFFERED": "1"}


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
                stat = open(f"/proc/{entry}/stat").read()
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
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
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
