"""samples.h5 does not depend on the rank count or the writer; kill and resume is invisible."""
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from ..conftest import cli_env, hpcrbm_command, needs_mpiexec, run_hpcrbm

CONFIG = """
[run]
seed = 77
[model]
dim = {dim}
L = {L}
[sampling]
temperatures = [1.2, 2.0, 2.3, 2.6, 3.5]
fields = [0.0, 0.4]
thermalize = 50
samples = 40
interval = 3
replicas = 8
start = "random"
"""


def read(path):
    with h5py.File(path) as h5:
        data = {name: h5[name][:] for name in ("configs", "observables/energy", "observables/magnetization",
                                               "summary/energy", "summary/specific_heat", "summary/binder")}
        assert h5.attrs["complete"]
        return data


def assert_same(a, b):
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=True), name


@needs_mpiexec
@pytest.mark.parametrize("dim,L", [(2, 6), (1, 9)])
def test_configs_identical_on_1_2_3_ranks_and_both_writers(tmp_path, write_config, dim, L):
    config = write_config(CONFIG.format(dim=dim, L=L))
    results = {}
    for ranks, writer in ((None, None), (2, None), (3, None), (3, "root")):
        out = tmp_path / f"run-{ranks}-{writer}"
        res = run_hpcrbm(["simulate", config, "--out", out, "--quiet"], ranks=ranks,
                         env={"HPCRBM_WRITER": writer} if writer else None)
        assert res.returncode == 0, res.stderr
        results[(ranks, writer)] = read(out / "samples.h5")
    first = results[(None, None)]
    for key, data in results.items():
        assert_same(first, data)
    assert len(np.unique(first["configs"][3, 0].reshape(40, -1), axis=0)) > 30  # T = 2.6: disordered


SLOW_CONFIG = """
[run]
seed = 3
checkpoint_interval = 0.3
[model]
dim = 2
L = 32
[sampling]
temperatures = [1.5, 2.0, 2.27, 2.5, 3.0]
fields = [0.0, 0.2]
thermalize = 200
samples = 2000
interval = 20
replicas = 2
"""


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


TEMPERING_POTTS = """
[model]
kind = "potts"
q = 3
[sampling]
tempering = true
exchange_every = 10
temperatures = [0.8, 0.9, 0.995, 1.1, 1.3]
"""


def merge(base, extra):
    """TOML text with the keys of ``extra`` replacing those of ``base``, section by section."""
    import tomllib
    from hpcrbm.config import from_dict, to_toml
    data = tomllib.loads(base)
    for section, table in tomllib.loads(extra).items():
        data.setdefault(section, {}).update(table)
    return to_toml(from_dict(data))


@needs_mpiexec
@pytest.mark.parametrize("ranks,variant", [(None, ""), (2, ""), (2, TEMPERING_POTTS)])
def test_kill_and_resume_gives_identical_results(tmp_path, write_config, ranks, variant):
    config = write_config(merge(SLOW_CONFIG, variant))
    reference = tmp_path / "reference"
    res = run_hpcrbm(["simulate", config, "--out", reference, "--quiet"], ranks=ranks)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "killed"
    killed_mid_run = kill_after_checkpoint(hpcrbm_command(["simulate", config, "--out", out, "--quiet"], ranks), out)
    assert killed_mid_run, "the run finished before it could be killed; make SLOW_CONFIG longer"
    assert not (out / "samples.h5").exists()
    assert (out / "checkpoints" / "samples.h5").exists()
    res = run_hpcrbm(["simulate", config, "--out", out], ranks=ranks)
    assert res.returncode == 0, res.stderr
    assert "resuming" in res.stderr
    assert_same(read(reference / "samples.h5"), read(out / "samples.h5"))
    assert not (out / "checkpoints" / "samples.h5").exists()
