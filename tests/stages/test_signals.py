"""Stop signals (what Slurm sends before a time limit): SIGTERM and SIGUSR1 make every stage write
its checkpoint and exit 75; the same command resumes to the files of an uninterrupted run,
including from a checkpoint taken inside a simulate step."""
import json
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from hpcrbm.backend import select_backend
from hpcrbm.config import loads
from hpcrbm.errors import EXIT_STOPPED, Stopped
from hpcrbm.parallel import Communicator
from hpcrbm.pipeline import run_stage
from hpcrbm.protocol import checkpoint as stage_module
from hpcrbm.stages.simulate import STAGE as SIMULATE
from tools.compare_runs import compare_h5

from ..conftest import cli_env, hpcrbm_command, kill_session, needs_mpiexec, run_hpcrbm
from .test_pipeline import CONFIG, summary_without_time


def same_results(a, b):
    """Two files hold the same datasets and attributes bit for bit, but for ``config`` (run.out)."""
    diffs = [d for d in compare_h5(a, b) if not d.endswith("attribute config differs")]
    assert diffs == [], diffs
    return True


def stop_after(cmd, watched, signum, timeout=120):
    """Start cmd in its own session; once ``watched`` exists send ``signum`` to its first process
    (mpiexec forwards SIGUSR1 to the ranks); returns (exit status, stderr)."""
    proc = subprocess.Popen(cmd, env=cli_env(), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not watched.exists():
        time.sleep(0.02)
    seen = watched.exists()
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        kill_session(proc.pid)
    assert seen, f"the run ended before {watched.name} appeared: lengthen the stage in the test's config"
    return proc.returncode, err


@pytest.mark.slow
@needs_mpiexec
@pytest.mark.parametrize("ranks,signum,watched,changes", [
    # one replica: 4000 steps of a few sweeps, several seconds, so the checkpoint is seen before simulate ends
    (2, signal.SIGUSR1, "checkpoints/samples.h5", {"samples = 200": "samples = 4000\nreplicas = 1",
                                                   "epochs = 150": "epochs = 5"}),
    (None, signal.SIGTERM, "checkpoints/rbm_nh4.h5", {"samples = 200": "samples = 2000"}),
    (None, signal.SIGUSR1, "checkpoints/thermometer_h0.h5",
     {"epochs = 150": "epochs = 5", "epochs = 3": "epochs = 3000"}),
    (2, signal.SIGUSR1, "checkpoints/flow.h5", {"epochs = 150": "epochs = 5", "steps = 3": "steps = 120",
                                                 "samples = 10": "samples = 200",  # 4 starts a rank, ~0.2 s each
                                                 "[1.5, 2.27, 3.5]": "[1.5, 2.0, 2.27, 2.5, 3.0, 3.5]"}),
])
def test_stop_signal_checkpoints_exits_75_and_resumes_identically(tmp_path, write_config, ranks, signum, watched,
                                                                  changes):
    text = CONFIG
    for old, new in changes.items():
        text = text.replace(old, new)
    config = write_config(text)
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    result = run_hpcrbm(["run", config, "--out", reference, "--quiet"])
    assert result.returncode == 0, result.stderr
    status, err = stop_after(hpcrbm_command(["run", config, "--out", stopped, "--quiet"], ranks),
                             stopped / watched, signum)
    assert status == EXIT_STOPPED, err
    assert f"stopped by {signum.name}; checkpoint written" in err and "Traceback" not in err
    assert not (stopped / "summary.json").exists()
    assert (stopped / watched).exists()  # the stage stopped inside, with its checkpoint
    with h5py.File(stopped / watched, "r") as h5:
        before = float(h5.attrs["stage_seconds"])  # the stage's seconds up to the stop
    result = run_hpcrbm(["run", config, "--out", stopped], ranks=ranks)
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stderr
    assert summary_without_time(reference / "summary.json") == summary_without_time(stopped / "summary.json")
    stage = {"samples": "simulate", "rbm": "train", "thermometer": "thermometer", "flow": "flow"}[
        watched.split("/")[1].split("_")[0].removesuffix(".h5")]
    resumed = json.loads((stopped / "summary.json").read_text())["run_time"][stage]["seconds"]
    assert 0 < before <= resumed  # run_time counts every segment of the stopped stage
    for name in ("samples.h5", "rbm.h5", "thermometer.h5", "flow.h5", "analysis.h5"):
        assert same_results(reference / name, stopped / name)


LONG_STEPS = """
[run]
seed = 5
checkpoint_interval = 0.001
[model]
L = 8
[sampling]
temperatures = [1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
fields = [0.0]
thermalize = 300
samples = 40
replicas = 20
interval = 5
"""


def test_a_checkpoint_inside_a_long_step_resumes_identically(tmp_path, monkeypatch):
    """With steps longer than the checkpoint interval the points of a step go in groups with a
    checkpoint between them; a stop there leaves points at different sweeps, and the resume
    gives the samples of an uninterrupted run bit for bit."""
    comm, backend = Communicator.world(), select_backend("cpu")
    cfg = loads(LONG_STEPS, [f"run.out='{tmp_path / 'reference'}'"])
    run_stage(SIMULATE, cfg, comm, backend, quiet=True)
    original, calls = stage_module.CheckpointTimer.checkpoint_if_due, []

    def stop_at_the_ninth_pause(self, save=None):
        # step 0 (one group) pauses once at its end; steps 1 and 2 go in 6 groups of one point
        # (a step takes far longer than interval / 4): pauses 2-6 and 8-12 fall inside them
        calls.append(1)
        if len(calls) == 9:
            stage_module._stop_requests.append(signal.SIGUSR1)
        return original(self, save)

    monkeypatch.setattr(stage_module.CheckpointTimer, "checkpoint_if_due", stop_at_the_ninth_pause)
    stopped = loads(LONG_STEPS, [f"run.out='{tmp_path / 'stopped'}'"])
    try:
        with pytest.raises(Stopped):
            run_stage(SIMULATE, stopped, comm, backend, quiet=True)
    finally:
        stage_module._stop_requests.clear()
    with h5py.File(tmp_path / "stopped" / "checkpoints" / "samples.h5") as h5:
        sweeps, position = h5["sweeps"][...], h5.attrs["position"]
    assert len(np.unique(sweeps)) == 2 and sweeps.min() == position, (sweeps, position)  # inside a step
    monkeypatch.setattr(stage_module.CheckpointTimer, "checkpoint_if_due", original)
    run_stage(SIMULATE, stopped, comm, backend, quiet=True)
    assert same_results(tmp_path / "reference" / "samples.h5", tmp_path / "stopped" / "samples.h5")


def cpu_seconds(pids, wall):
    """CPU seconds (user + system) each process in ``pids`` used during ``wall`` seconds."""
    def used():
        out = []
        for pid in pids:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
        return out
    before = used()
    time.sleep(wall)
    return [b - a for a, b in zip(before, used())]


@pytest.mark.slow
@needs_mpiexec
@pytest.mark.parametrize("target", ["mpiexec", "one rank"])
def test_a_stop_while_ranks_train_whole_rbms_stops_every_rank(tmp_path, write_config, target):
    """rbm.parallel = "models" on 2 ranks, one RBM much larger than the other: once the small one
    is done, its rank waits for the other without taking a core (under 0.3 s of CPU in a second),
    and SIGUSR1 to mpiexec (both ranks) or to one rank only stops both with status 75, none waits
    forever; the run then resumes to the uninterrupted run's rbm.h5."""
    # 6 temperatures: the "extremes" control (2 of them, N_h = 256) and N_h = 4 on one rank take
    # under half the time of N_h = 256 on the other, which then trains alone for seconds
    text = CONFIG.replace("hidden = [4]", "hidden = [4, 256]\nparallel = 'models'").replace(
        "epochs = 150", "epochs = 400").replace("samples = 200", "samples = 300").replace(
        "[1.5, 2.27, 3.5]", "[1.5, 2.0, 2.27, 2.5, 3.0, 3.5]")
    config = write_config(text)
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    proc = subprocess.Popen(hpcrbm_command(["run", config, "--out", stopped, "--quiet"], 2), env=cli_env(),
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        folder = stopped / "checkpoints"
        small, large = [folder / "rbm_nh4.h5", folder / "rbm_control_extremes.h5"], folder / "rbm_nh256.h5"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with h5py.File(small[0], "r") as a, h5py.File(small[1], "r") as b, h5py.File(large, "r") as c:
                    if a.attrs["done"] and b.attrs["done"] and not c.attrs["done"]:
                        break
            except (OSError, KeyError):
                pass
            time.sleep(0.05)
        else:
            pytest.fail("the small RBMs did not finish while the large one trained: lengthen the training")
        ranks = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(ranks) == 2, ranks
        if target == "mpiexec":  # first: the rank that waits for the other sleeps, it takes no core
            used = cpu_seconds(ranks, 1.0)
            assert min(used) < 0.3 and max(used) > 0.6, used
            proc.send_signal(signal.SIGUSR1)
        else:
            os.kill(int(ranks[0]), signal.SIGUSR1)
        _, err = proc.communicate(timeout=120)
    finally:
        kill_session(proc.pid)
    assert proc.returncode == EXIT_STOPPED, err
    assert run_hpcrbm(["run", config, "--out", stopped, "--quiet"], ranks=2).returncode == 0
    assert run_hpcrbm(["run", config, "--out", reference, "--quiet"], ranks=2).returncode == 0
    assert same_results(reference / "rbm.h5", stopped / "rbm.h5")


@pytest.mark.slow
@pytest.mark.parametrize("ranks,delay", [(None, 0.3), (None, 0.6), (2, 0.6), (3, 0.9)])
def test_a_stop_signal_in_the_first_second_still_stops_with_75(tmp_path, write_config, ranks, delay):
    """The handlers are installed before NumPy, h5py and MPI load (hpcrbm/protocol/stop.py): a
    SIGTERM (SIGUSR1 to mpiexec) a fraction of a second after the start exits 75, not 143/138, and
    the same command then finishes the run. Before the interpreter itself is up (about the first
    0.1 s) no Python program can catch a signal."""
    config = write_config(CONFIG.replace("epochs = 150", "epochs = 5"))
    out = tmp_path / "run"
    proc = subprocess.Popen(hpcrbm_command(["run", config, "--out", out, "--quiet"], ranks), env=cli_env(),
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(delay)
        proc.send_signal(signal.SIGUSR1 if ranks else signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        kill_session(proc.pid)
    assert proc.returncode == EXIT_STOPPED, err
    assert run_hpcrbm(["run", config, "--out", out, "--quiet"], ranks=ranks).returncode == 0


@pytest.mark.slow
@needs_mpiexec
def test_ctrl_c_on_one_rank_ends_every_rank(tmp_path, write_config):
    """SIGINT to one rank process (not to mpiexec) while the thermometer trains: every rank ends
    (130 on that rank, the job aborted), none waits forever in a broadcast; the run resumes."""
    config = write_config(CONFIG.replace("epochs = 150", "epochs = 5").replace("epochs = 3", "epochs = 3000"))
    out = tmp_path / "run"
    proc = subprocess.Popen(hpcrbm_command(["run", config, "--out", out, "--quiet"], 2), env=cli_env(),
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and \
                not (out / "checkpoints" / "thermometer_h0.h5").exists():
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before the thermometer's checkpoint appeared"
        ranks = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(ranks) == 2, ranks
        os.kill(int(ranks[-1]), signal.SIGINT)
        _, err = proc.communicate(timeout=60)  # a hang fails here
    finally:
        kill_session(proc.pid)
    assert proc.returncode != 0, err
    assert run_hpcrbm(["run", config, "--out", out, "--quiet"], ranks=2).returncode == 0
