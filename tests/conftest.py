"""Shared fixtures: running the real CLI, serially and under a real mpiexec."""
import os
import shutil
import subprocess
import sys
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


needs_mpiexec = pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec (Open MPI)")
