"""A real single-node Slurm for the job-script tests: tools/slurm_local.sh starts it once per
session in a temporary directory (installing slurm-wlm and munge if absent) and always stops it
again (every job cancelled, then exactly the daemons it started). Where it cannot start (not
root, no apt-get, daemons failing) every Slurm test is skipped with one message saying why."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import MPI_ENV, ROOT

SLURM_LOCAL = ROOT / "tools" / "slurm_local.sh"
# Ranks waiting in MPI give up the core: this node's 2 cores may hold more ranks than cores (a job
# and a run beside it), and Open MPI launched by srun would spin.
YIELD = {"OMPI_MCA_mpi_yield_when_idle": "1"}
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
                "DEADLINE", "PREEMPTED"}


class Cluster:
    """Clients of the test cluster: its SLURM_CONF, this interpreter's bin/ first on PATH (the job
    scripts call ``python``), Open MPI allowed to run as root like the Makefile; jobs inherit it."""

    def __init__(self, directory):
        self.dir = directory
        self.env = dict(os.environ)
        self.env.update(MPI_ENV)
        self.env.update(YIELD)
        self.env["SLURM_CONF"] = str(directory / "slurm.conf")
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}"

    def run(self, *args, env=None, timeout=60):
        result = subprocess.run([str(a) for a in args], env={**self.env, **(env or {})}, capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, f"{' '.join(map(str, args))}: {result.stderr}"
        return result.stdout

    def sbatch(self, options, script, args=(), env=None):
        """Submit ``script ARGS`` with sbatch OPTIONS (overriding its #SBATCH lines); the job id."""
        return self.run("sbatch", "--parsable", *options, script, *args, env=env).strip().split(";")[0]

    def jobs(self, jobid):
        """``scontrol show job -o`` as one dict per job (an array: one per task)."""
        out = self.run("scontrol", "show", "job", "-o", jobid)
        return [dict(item.split("=", 1) for item in line.split() if "=" in item) for line in out.splitlines()
                if line.strip()]

    def wait(self, jobid, timeout, until=None, poll=1.0):
        """Poll until every job or array task of ``jobid`` is in a final state (or ``until(jobs)``
        is true); the last ``jobs(jobid)``. Fails after ``timeout`` seconds."""
        deadline = time.time() + timeout
        while True:
            jobs = self.jobs(jobid)
            if (until(jobs) if until else all(j["JobState"] in FINAL_STATES for j in jobs)):
                return jobs
            assert time.time() < deadline, f"job {jobid} not done after {timeout} s: {jobs}"
            time.sleep(poll)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    directory = tmp_path_factory.mktemp("slurm")
    try:
        started = subprocess.run(["bash", str(SLURM_LOCAL), "start", str(directory)], capture_output=True,
                                 text=True, timeout=300)
    except subprocess.TimeoutExpired:
        started = subprocess.CompletedProcess([], 1, "", "timed out after 300 s")
    try:
        if started.returncode != 0:
            lines = started.stderr.strip().splitlines()
            reason = next((line for line in reversed(lines) if "cannot start" in line),
                          lines[-1] if lines else f"tools/slurm_local.sh start exited {started.returncode}")
            pytest.skip(f"Slurm tests skipped: {reason.removeprefix('slurm_local: ')}")
        yield Cluster(directory)
    finally:
        subprocess.run(["bash", str(SLURM_LOCAL), "stop", str(directory)], capture_output=True, timeout=120)
