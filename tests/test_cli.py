"""The command line as users meet it: exit statuses, one-line errors, no half-written output.
Refusals before any work run in this process (the ``cli`` fixture); a few run as a real process
too, for the exit status and the absence of a traceback there."""
import json
import shutil

import h5py
import numpy as np
import pytest

from .conftest import copy_run, run_hpcrbm

TINY = """
[run]
seed = 5
[model]
dim = 2
L = 4
[sampling]
temperatures = [1.5, 3.0]
fields = [0.0]
thermalize = 20
samples = 8
interval = 2
"""


def assert_bad_input(result, needle):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text,needle", [
    ("[model]\nLL = 4", "model.LL"),
    ("[model]\nL = 'four'", "model.L"),
    ("[sampling]\ntemperatures = [0.0, 1.0]", "sampling.temperatures"),
    ("[model]\nL = 5", "model.L"),
    ("[model]\ndim = 1\nL = 1", "model.L"),
    ("[sampling]\nsamples = 0", "sampling.samples"),
    ("[model\nL = 4", "malformed TOML"),
    ("[flow]\nsteps = 0", "flow.steps"),  # used to fail in analyze
    ("[run]\nname = '../../x'", "run.name"),  # used to write outside runs/
    ("[run]\nname = '..'", "run.name"),
    ("[sampling]\nfields = [1e300]", "sampling.fields"),  # used to end in a traceback
])
def test_simulate_rejects_bad_config_without_output(tmp_path, write_config, cli, text, needle):
    out = tmp_path / "run"
    assert_bad_input(cli(["simulate", write_config(text), "--out", out]), needle)
    assert not out.exists()


def test_a_bad_config_ends_the_process_with_status_2_and_one_line(tmp_path, write_config):
    """The refusals above as the real command: a process of its own, exit 2, one line, no traceback."""
    out = tmp_path / "run"
    for text, needle in (("[model]\nLL = 4", "model.LL"), ("[sampling]\nfields = [1e300]", "sampling.fields")):
        assert_bad_input(run_hpcrbm(["simulate", write_config(text), "--out", out], timeout=120), needle)
    assert_bad_input(run_hpcrbm(["run", "configs/demo.toml", "--out", out, "--set", "model.L=60000"]),
                     "resources: the")
    assert not out.exists()


@pytest.mark.parametrize("overrides,needle", [
    (["rbm.batch_size=100000"], "rbm.batch_size"),  # used to be refused only after simulate wrote samples.h5
    (["thermometer.batch_size=100000"], "thermometer.batch_size"),  # used to train zero steps and exit 0
    (["thermometer.holdout=0.0001"], "thermometer.holdout"),  # no calibration sample: used to give a NaN accuracy
    (["model.L=60000"], "resources: the"),  # used to reach 4 GB in 9 s before failing
    (["sampling.samples=1000000000"], "resources: the"),
    (["flow.samples=1000", "flow.steps=100000"], "resources: the flow stage needs"),
])
def test_run_refuses_what_cannot_work_before_any_work(tmp_path, cli, overrides, needle):
    out = tmp_path / "a" / "b" / "run"  # no folder of the path is left behind
    result = cli(["run", "configs/demo.toml", "--out", out] + [x for o in overrides for x in ("--set", o)])
    assert_bad_input(result, needle)
    assert not (tmp_path / "a").exists()
    if needle.startswith("resources: the"):
        assert "more than 90% of the" in result.stderr, result.stderr  # the rule, not just two numbers


def test_a_file_named_checkpoints_is_named_in_one_line(tmp_path, tiny_run, cli):
    run = copy_run(tiny_run[0], tmp_path / "run")
    shutil.rmtree(run / "checkpoints", ignore_errors=True)
    (run / "checkpoints").write_text("mine")
    result = cli(["run", tiny_run[1], "--out", run, "--set", "rbm.epochs=4"])
    assert_bad_input(result, f"{run / 'checkpoints'}: exists and is not a directory")
    assert not (run / "replaced").exists()  # refused before any work
    assert (run / "checkpoints").read_text() == "mine"


def test_plan_prints_stages_files_and_a_time_and_refuses_what_does_not_fit(tmp_path):
    result = run_hpcrbm(["plan", "configs/demo.toml", "--out", tmp_path / "run", "--ranks", "2"])
    assert result.returncode == 0, result.stderr
    for needle in ("simulate", "train", "thermometer", "flow", "analyze", "samples.h5", "flow.h5", "memory/rank",
                   "GPU/rank", "time (each stage's inner step", "total", "fits: yes"):
        assert needle in result.stdout, result.stdout
    times = [line.split() for line in result.stdout.splitlines() if line.startswith("  ") and line.split()[0] in
             ("simulate", "train", "thermometer", "flow", "analyze", "total")]
    assert [t[0] for t in times] == ["simulate", "train", "thermometer", "flow", "analyze", "total"]
    assert not (tmp_path / "run").exists()
    result = run_hpcrbm(["plan", "configs/demo.toml", "--no-bench", "--set", "model.L=60000"])
    assert result.returncode == 2 and "resources: the" in result.stderr and "total" not in result.stdout


def test_a_config_that_is_not_utf8_is_bad_input(tmp_path):
    config = tmp_path / "latin1.toml"
    config.write_bytes("[run]\nname = 'M\u00fcller'\n".encode("latin-1"))
    assert_bad_input(run_hpcrbm(["simulate", config, "--out", tmp_path / "run"]), "not UTF-8")
    assert not (tmp_path / "run").exists()


def test_simulate_rejects_bad_override_and_missing_config(tmp_path, write_config, cli):
    out = tmp_path / "run"
    assert_bad_input(cli(["simulate", write_config(TINY), "--out", out, "--set", "model.L=7"]), "model.L")
    assert_bad_input(cli(["simulate", tmp_path / "nope.toml", "--out", out]), "nope.toml")
    assert not out.exists()


def test_info_rejects_missing_truncated_and_foreign_files(tmp_path, tiny_run, cli):
    assert_bad_input(cli(["info", tmp_path / "missing.h5"]), "missing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5 at all\n")
    assert_bad_input(cli(["info", text]), "not an HDF5 file")
    data = (tiny_run[0] / "samples.h5").read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 3])
    assert_bad_input(run_hpcrbm(["info", truncated]), "truncated.h5")


def test_simulate_then_info(tmp_path, write_config):
    out = tmp_path / "run"
    result = run_hpcrbm(["simulate", write_config(TINY), "--out", out, "--quiet"])
    assert result.returncode == 0, result.stderr
    info = run_hpcrbm(["info", out / "samples.h5", "--json"])
    assert info.returncode == 0
    desc = json.loads(info.stdout)
    assert desc["complete"] is True
    assert desc["datasets"]["configs"] == {"shape": [2, 1, 8, 4, 4], "dtype": "int8"}
    attrs = desc["attributes"]
    for key in ("model", "dim", "L", "q", "seed", "hpcrbm_version", "config", "complete", "ranks", "backend",
                "h5py_version", "hdf5_version", "mpi_version", "start_time", "end_time"):
        assert key in attrs, key
    with h5py.File(out / "samples.h5") as h5:
        configs = h5["configs"][:]
        assert set(np.unique(configs)) <= {-1, 1}
        assert h5["observables/energy"].shape == (2, 1, 8)
        for name in ("energy", "abs_magnetization", "specific_heat", "susceptibility", "binder"):
            assert h5[f"summary/{name}"].shape == (2, 1) and h5[f"summary/{name}_err"].shape == (2, 1)
        assert h5["summary/tau_int"].shape == (2, 1)
    assert not (out / "samples.h5.partial").exists() and not (out / "checkpoints" / "samples.h5").exists()
    again = run_hpcrbm(["simulate", write_config(TINY), "--out", out, "--quiet"])
    assert again.returncode == 0


def test_existing_output_of_other_inputs_is_refused(tmp_path, tiny_run):
    out = copy_run(tiny_run[0], tmp_path / "run")
    before = (out / "samples.h5").read_bytes()
    result = run_hpcrbm(["simulate", tiny_run[1], "--out", out, "--set", "run.seed=6"])
    assert_bad_input(result, "samples.h5")
    assert (out / "samples.h5").read_bytes() == before


def test_validate_quick_passes():
    result = run_hpcrbm(["validate", "--quick"], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout and "Kaufman" in result.stdout


def test_bench_mc_prints_json():
    result = run_hpcrbm(["bench", "mc", "--L", "64", "--sweeps", "20", "--json"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["flips_per_ns"] > 0 and data["L"] == 64


def test_unwritable_run_directory_is_bad_input(tmp_path, write_config, cli):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the run directory should go")
    assert_bad_input(cli(["simulate", write_config(TINY), "--out", blocker / "run"]), "run.out")


def test_more_ranks_than_grid_points_and_negative_plan_ranks_are_bad_input(tmp_path, write_config):
    """Every rank owns a slice of the grid: 4 ranks on 3 points are refused before any work (one
    line, exit 2, nothing written), and so is `plan --ranks -3`."""
    result = run_hpcrbm(["plan", "configs/demo.toml", "--no-bench", "--ranks", "-3"])
    assert_bad_input(result, "ranks: -3")
    config = write_config("[model]\nL = 4\n[sampling]\ntemperatures = [1.5, 2.27, 3.5]\nsamples = 200\n")
    result = run_hpcrbm(["run", config, "--out", tmp_path / "run"], ranks=4)
    assert result.returncode == 2 and "4 ranks for 3 (T, H) grid points" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run" / "samples.h5").exists()
