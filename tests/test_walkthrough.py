"""The README's walkthrough, run as written: its code block is parsed from README.md and every
command after `make demo` runs in order in a fresh directory (configs/ and .venv linked), the way a
user pastes it (bash, the venv activated, the block's own exports), so README and behaviour
cannot drift apart."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import cli_env, hpcrbm_command, needs_mpiexec

ROOT = Path(__file__).resolve().parents[1]


def walkthrough():
    """The commands of README's "A first walkthrough" block after its first line (make demo),
    comments dropped."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## A first walkthrough", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    assert lines[0] == "make demo"
    return [line for line in lines[1:] if line]


def test_the_walkthrough_block_is_what_this_test_runs():
    commands = walkthrough()
    assert commands[0] == "source .venv/bin/activate" and any(c.startswith("mpiexec -n 2 hpcrbm run") for c in commands)
    assert all(c.startswith(("source ", "export ", "mpiexec ", "hpcrbm ")) for c in commands), commands


@pytest.mark.slow
@needs_mpiexec
def test_the_readme_walkthrough_runs_as_written(tmp_path):
    for name in ("configs", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    script = ["set -e"]
    for command in walkthrough():
        script += [f"echo '::: {command}' >&2", "SECONDS=0", command, "echo \"::: $SECONDS s\" >&2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "VIRTUAL_ENV"))}
    start = time.monotonic()
    result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=1500)
    timings = [line for line in result.stderr.splitlines() if line.startswith(":::")]
    assert result.returncode == 0, "\n".join(timings[-4:]) + "\n" + result.stderr[-3000:]
    for run in ("demo", "ising2d"):
        assert (tmp_path / "runs" / run / "summary.json").exists()
    print(f"walkthrough: {time.monotonic() - start:.0f} s\n" + "\n".join(timings))


@pytest.mark.slow
@needs_mpiexec
def test_a_run_under_mpiexec_prints_progress_at_least_every_ten_seconds(tmp_path):
    """The README's ising2d run (L = 10, 24 x 3 points, 150 epochs: a minute or more since the C
    update trains 60 in under 40 s) on 2 ranks with stderr to a pipe (no terminal: log lines, not
    bars): every stage says what it does, and no two lines are more than 10 s apart."""
    cmd = hpcrbm_command(["run", ROOT / "configs" / "ising2d.toml", "--out", tmp_path / "ising2d", "--set",
                          "rbm.epochs=150"], 2)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    arrivals = []
    for line in proc.stderr:
        arrivals.append((time.monotonic(), line.rstrip()))
    assert proc.wait(timeout=900) == 0, "\n".join(line for _, line in arrivals[-20:])
    gaps = [(b[0] - a[0], b[1]) for a, b in zip(arrivals, arrivals[1:])]
    assert arrivals[-1][0] - arrivals[0][0] > 40, "the run is too short to test the rate"
    assert max(gaps)[0] <= 10, max(gaps)
    text = "\n".join(line for _, line in arrivals)
    for stage in ("simulate", "train nh100", "train control_extremes", "thermometer field 0", "flow", "analyze"):
        assert f"] INFO: {stage}" in text, stage
