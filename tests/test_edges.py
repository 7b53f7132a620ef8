"""Safety at the edges: one writer per run directory, write failures, sizes checked up front,
and values that used to pass validation and fail later (each exits 2 with one line, or works)."""
import subprocess
import time

from hpcrbm.io.lock import LOCK_NAME

from .conftest import cli_env, hpcrbm_command, kill_session, needs_mpiexec, run_hpcrbm
from .test_pipeline import CONFIG


def one_line_error(result, *phrases):
    """Exit 2, one line on stderr (no traceback) containing every phrase."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("hpcrbm: error: "), result.stderr
    assert all(p in lines[0] for p in phrases), lines[0]


@needs_mpiexec
def test_a_second_run_on_the_same_directory_exits_2_naming_the_holder(tmp_path, write_config):
    config = write_config(CONFIG)
    out = tmp_path / "run"
    first = subprocess.Popen(hpcrbm_command(["run", config, "--out", out, "--quiet"], 2), env=cli_env(),
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (out / LOCK_NAME).exists() and time.time() < deadline:
            time.sleep(0.02)
        for command in (["run", config, "--out", out], ["train", out]):
            second = run_hpcrbm(command)
            one_line_error(second, str(out), "in use by pid", "one writer per run")
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        kill_session(first.pid)
    assert not (out / LOCK_NAME).exists()
    assert (out / "summary.json").exists()


def test_a_stale_lock_of_a_killed_run_is_taken_over(tmp_path, write_config):
    config = write_config(CONFIG.replace("epochs = 150", "epochs = 2"))
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text("pid 999999 on elsewhere since 2026-01-01T00:00:00: hpcrbm run\n")
    result = run_hpcrbm(["run", config, "--out", out])
    assert result.returncode == 0, result.stderr
    assert "took over the stale lock" in result.stderr and "pid 999999" in result.stderr
    assert not (out / LOCK_NAME).exists()


def test_refused_input_leaves_no_run_directory(tmp_path, write_config):
    config = write_config(CONFIG)
    (tmp_path / "first").mkdir()
    result = run_hpcrbm(["simulate", config, "--out", tmp_path / "first"])
    assert result.returncode == 0, result.stderr
    other = write_config(CONFIG.replace("seed = 21", "seed = 22"), "other.toml")
    result = run_hpcrbm(["simulate", other, "--out", tmp_path / "first"])
    one_line_error(result, "made from a different")
    result = run_hpcrbm(["train", tmp_path / "nothing"])
    assert result.returncode == 2 and not (tmp_path / "nothing").exists()
