"""The job scripts under a real Slurm (tests/slurm/conftest.py starts one on this machine):
jobs/slurm-cpu.sbatch stopped by its time limit requeues itself, resumes and ends with the files
of an uninterrupted run; jobs/slurm-campaign.sbatch as an array job completes a campaign; the
scripts' signal handling (warning -> requeue, scancel -> no requeue) with a stand-in for hpcrbm.

Submissions override the scripts' #SBATCH lines for this 2-core node (-p debug -N 1 --ntasks=2
--time=1 ...), as one would on any cluster."""
import json
import os
import subprocess
import time

import h5py
import pytest

from tools.compare_runs import compare_h5, compare_json

from ..conftest import ROOT, cli_env, hpcrbm_command, kill_session, needs_mpiexec, run_hpcrbm
from ..stages.test_pipeline import CONFIG
from .conftest import YIELD

pytestmark = pytest.mark.slurm

CPU_JOB = ROOT / "jobs" / "slurm-cpu.sbatch"
CAMPAIGN_JOB = ROOT / "jobs" / "slurm-campaign.sbatch"
STAGE_FILES = ("samples.h5", "rbm.h5", "thermometer.h5", "flow.h5", "analysis.h5")

# configs/demo.toml with one RBM of 120 epochs: 39 s on 2 ranks here with its kernels compiled
# (35 s of it training, 7 epochs/s), about twice that while the reference runs beside it, so the
# warning 20 to 50 s after the start finds it mid-run; a checkpoint every 2 s.
DEMO_SMALL = ["rbm.hidden=[16]", "rbm.epochs=120", "run.checkpoint_interval=2"]

def options(tmp_path, name, *extra):
    """sbatch options for this node; output appended to tmp_path/NAME-JOBID.out. The scripts'
    warning 300 s before the time limit would come at once with these minutes: 10 s instead."""
    return ["-p", "debug", "-N", "1", f"--chdir={tmp_path}", f"--output={tmp_path}/{name}-%j.out",
            "--signal=B:USR1@10", *extra]


def output(tmp_path, name, jobid):
    path = tmp_path / f"{name}-{jobid}.out"
    return path.read_text() if path.exists() else ""


def same_runs(a, b):
    """Differences between run directories a and b: every dataset and attribute of every stage
    file and summary.json (tools/compare_runs.py), the recorded config up to its run.out."""
    diffs = []
    for name in STAGE_FILES:
        diffs += [d for d in compare_h5(a / name, b / name) if "attribute config" not in d]
        with h5py.File(a / name) as fa, h5py.File(b / name) as fb:
            if str(fa.attrs["config"]).replace(str(a), str(b)) != str(fb.attrs["config"]):
                diffs.append(f"{name}: config differs beyond run.out")
    diffs += compare_json(json.loads((a / "summary.json").read_text()), json.loads((b / "summary.json").read_text()))
    return diffs


@needs_mpiexec
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores (a job of 2 tasks)")
@pytest.mark.timeout(540)
def test_time_limit_stops_the_job_which_requeues_resumes_and_matches_an_uninterrupted_run(slurm, tmp_path):
    config = ROOT / "configs" / "demo.toml"
    sets = [x for s in DEMO_SMALL for x in ("--set", s)]
    run_dir, reference = tmp_path / "slurm_run", tmp_path / "reference"
    # The kernels compiled first, as any earlier run leaves them: a stop is honoured at the next
    # checkpoint check, and a first run on an empty kernel cache compiles for about 40 s of CPU
    # before its first training epoch ends; on this node's 2 cores, shared with the reference and
    # the serial suite, that outlasted the warning's 30 s before the limit (docs/io.md).
    warm = run_hpcrbm(["run", config, "--out", tmp_path / "warm", "--quiet", *sets, "--set", "rbm.epochs=2"],
                      ranks=2, env=YIELD)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    # USR1 to the batch shell 10 to 40 s before the 1-minute limit (Slurm checks every 30 s), i.e.
    # 20 to 50 s after the start: hpcrbm is well started and far from done.
    jobid = slurm.sbatch(options(tmp_path, "cpu", "--ntasks=2", "--time=1"),
                         CPU_JOB, [config, "--out", run_dir, *sets])
    # The uninterrupted reference, on 2 ranks beside the job (it also slows the job down).
    with open(tmp_path / "reference.log", "w") as log:
        ref = subprocess.Popen(hpcrbm_command(["run", config, "--out", reference, "--quiet", *sets], ranks=2),
                               env=cli_env(YIELD), start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        started = time.time()
        first = slurm.wait(jobid, 200, until=lambda jobs: int(jobs[0]["Restarts"]) >= 1
                           or jobs[0]["JobState"] in {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}, poll=0.5)[0]
        why = ("it finished before the time-limit signal: make DEMO_SMALL bigger" if first["JobState"] == "COMPLETED"
               else "the script requeues only when hpcrbm exits 75 after the time-limit signal")
        assert int(first["Restarts"]) >= 1, (f"job {jobid} ended {first['JobState']} (exit {first['ExitCode']}) "
                                             f"without a requeue: {why}.\n{output(tmp_path, 'cpu', jobid)}")
        stopped_after = time.time() - started
        # Stopped mid-run, with something to resume from.
        kept = sorted(p.name for p in [*run_dir.glob("*.h5"), *run_dir.glob("checkpoints/*.h5")])
        assert not (run_dir / "summary.json").exists()
        assert kept, output(tmp_path, "cpu", jobid)
        # One interruption is the point; give the next allocation time to finish.
        slurm.run("scontrol", "update", f"JobId={jobid}", "TimeLimit=10")
        job = slurm.wait(jobid, 300)[0]
        ref.wait(timeout=300)
    finally:
        if ref.poll() is None:
            kill_session(ref.pid)
            ref.wait()
    text = output(tmp_path, "cpu", jobid)
    assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", (job, text)
    assert int(job["Restarts"]) >= 1
    assert "restart 0" in text and "requeueing job" in text and "restart 1" in text, text
    assert ref.returncode == 0, (tmp_path / "reference.log").read_text()
    assert (run_dir / "summary.json").exists()
    assert not same_runs(reference, run_dir), same_runs(reference, run_dir)[:10]
    print(f"slurm: job {jobid} requeued {job['Restarts']}x; stopped {stopped_after:.0f} s after submission with {kept}")


@pytest.mark.timeout(300)
def test_campaign_as_an_array_job_completes_every_run(slurm, tmp_path):
    (tmp_path / "base.toml").write_text(CONFIG.replace("epochs = 150", "epochs = 20"))
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(f'[campaign]\nname = "array"\nbase = "base.toml"\nout = "{tmp_path / "runs"}"\n'
                        '[sweep]\n"run.seed" = [1, 2, 3]\n')
    listing = run_hpcrbm(["campaign", "list", campaign])
    assert listing.returncode == 0 and len(listing.stdout.strip().splitlines()) == 3, listing.stdout
    # One rank per task: two tasks at a time on this node, the third when one ends.
    jobid = slurm.sbatch(options(tmp_path, "campaign", "--ntasks=1", "--time=5", "--array=0-2"),
                         CAMPAIGN_JOB, [campaign])
    tasks = slurm.wait(jobid, 240, until=lambda jobs: len(jobs) == 3 and all(
        j["JobState"] in {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"} for j in jobs))
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("campaign-*.out")))
    assert sorted(int(t["ArrayTaskId"]) for t in tasks) == [0, 1, 2]
    assert all(t["JobState"] == "COMPLETED" and t["ExitCode"] == "0:0" for t in tasks), (tasks, logs)
    status = run_hpcrbm(["campaign", "status", campaign])
    assert status.returncode == 0 and "3 of 3 runs done" in status.stdout, status.stdout + status.stderr
    rows = json.loads(run_hpcrbm(["campaign", "status", campaign, "--json"]).stdout)
    assert [r["done"] for r in rows] == [True, True, True]


# Stands in for hpcrbm (first on PYTHONPATH) and keeps its signal contract: 0.1 s steps with a
# checkpoint; on USR1 or TERM it saves and exits 75; it resumes from the saved step.
STUB = """
import os, signal, sys, time
state = os.path.join(os.environ["STUB_DIR"], "step")
stop = []
for s in (signal.SIGUSR1, signal.SIGTERM):
    signal.signal(s, lambda n, f: stop.append(n))
step = int(open(state).read()) if os.path.exists(state) else 0
print(f"stub: {' '.join(sys.argv[1:])}: from step {step}", flush=True)
while step < int(os.environ["STUB_STEPS"]):
    if stop:
        open(state, "w").write(str(step))
        print(f"stub: signal {stop[0]} at step {step}; exit 75", flush=True)
        sys.exit(75)
    time.sleep(0.1)
    step += 1
    open(state, "w").write(str(step))
print("stub: done", flush=True)
"""


@pytest.mark.timeout(240)
def test_job_script_requeues_after_the_warning_signal_but_not_after_scancel(slurm, tmp_path):
    """USR1 to the batch shell (what --signal=B:USR1@N sends) is forwarded through srun, the
    exit 75 requeues the job, which resumes; scancel's TERM also ends in exit 75 but no requeue."""
    stub = tmp_path / "stub" / "hpcrbm"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    (stub / "__main__.py").write_text(STUB)
    jobs = {}
    for name in ("warned", "cancelled"):
        (tmp_path / name).mkdir()
        env = {"PYTHONPATH": str(tmp_path / "stub"), "STUB_DIR": str(tmp_path / name), "STUB_STEPS": "80"}
        jobs[name] = slurm.sbatch(options(tmp_path, name, "--ntasks=1", "--time=5"), CPU_JOB,
                                  ["config.toml", "--out", "somewhere"], env=env)
    deadline = time.time() + 60
    while not all((tmp_path / name / "step").exists() for name in jobs):
        assert time.time() < deadline, {name: output(tmp_path, name, j) for name, j in jobs.items()}
        time.sleep(0.2)
    slurm.run("scancel", "--batch", "--signal=USR1", jobs["warned"])
    slurm.run("scancel", jobs["cancelled"])

    warned = slurm.wait(jobs["warned"], 120)[0]
    text = output(tmp_path, "warned", jobs["warned"])
    assert warned["JobState"] == "COMPLETED" and warned["ExitCode"] == "0:0" and warned["Restarts"] == "1", \
        (warned, text)
    assert "stub: run config.toml --quiet --out somewhere: from step 0" in text
    assert "signal 10" in text and "requeueing job" in text and "restart 1" in text and "stub: done" in text
    resumed_from = int(text.split("restart 1")[1].split("from step ")[1].split()[0])
    assert resumed_from > 0, text

    cancelled = slurm.wait(jobs["cancelled"], 60)[0]
    text = output(tmp_path, "cancelled", jobs["cancelled"])
    assert cancelled["JobState"] == "CANCELLED" and cancelled["Restarts"] == "0", (cancelled, text)
    assert "signal 15" in text and "submit the same job again to resume" in text and "requeueing" not in text


@pytest.mark.timeout(120)
def test_a_job_whose_srun_cannot_start_hpcrbm_fails(slurm, tmp_path):
    """srun that cannot launch the program (no ``python`` on PATH) makes the job FAILED with a
    nonzero exit code, never COMPLETED 0:0."""
    jobid = slurm.sbatch(options(tmp_path, "nolaunch", "--ntasks=1", "--time=2"), CPU_JOB, ["config.toml"],
                         env={"PATH": "/usr/bin:/bin"})
    job = slurm.wait(jobid, 90)[0]
    text = output(tmp_path, "nolaunch", jobid)
    assert job["JobState"] == "FAILED" and job["ExitCode"] != "0:0" and job["Restarts"] == "0", (job, text)
    assert "srun" in text, text


@pytest.mark.timeout(180)
def test_a_warning_lead_not_shorter_than_the_time_limit_is_refused_not_requeued(slurm, tmp_path):
    """--signal=B:USR1@120 with --time=1: the warning comes at once; after one requeue (a first
    early warning may be Slurm's 30 s check) the job stops with a line naming --signal and --time
    and fails instead of requeueing itself over and over."""
    stub = tmp_path / "stub" / "hpcrbm"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    (stub / "__main__.py").write_text(STUB)
    (tmp_path / "lead").mkdir()
    env = {"PYTHONPATH": str(tmp_path / "stub"), "STUB_DIR": str(tmp_path / "lead"), "STUB_STEPS": "1500"}
    jobid = slurm.sbatch([*options(tmp_path, "lead", "--ntasks=1", "--time=1"), "--signal=B:USR1@120"], CPU_JOB,
                         ["config.toml"], env=env)
    job = slurm.wait(jobid, 150)[0]
    text = output(tmp_path, "lead", jobid)
    assert job["JobState"] == "FAILED" and job["Restarts"] == "1", (job, text)
    assert "--signal" in text and "--time" in text and text.count("requeueing") == 1, text
