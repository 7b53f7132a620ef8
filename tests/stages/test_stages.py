"""The stage protocol end to end: fingerprints chained through the files, the one overwrite and
consistency policy, per-stage commands that never mix inputs (issue 12's defects, each a test)."""
import json
import shutil

import h5py
import numpy as np
import pytest

from hpcrbm.config import loads
from hpcrbm.protocol.stage import digest

from ..conftest import TINY_RUN, hpcrbm_command, kill_after_checkpoint, run_hpcrbm

CONFIG = TINY_RUN  # the session's shared tiny run (tests/conftest.py: tiny_run)
FILES = ("samples.h5", "rbm.h5", "thermometer.h5", "flow.h5", "analysis.h5")


@pytest.fixture
def finished(tiny_run):
    """A complete run of CONFIG (every stage) and its config file, made once per session: tests
    change only copies of it (copy_of)."""
    return tiny_run


def copy_of(finished, tmp_path, name="run"):
    target = tmp_path / name
    shutil.copytree(finished[0], target)
    return target


def stamps(run):
    return {f: (run / f).stat().st_mtime_ns for f in FILES}


def attr(path, name):
    with h5py.File(path) as h5:
        return h5.attrs[name]


def config_of(path):
    return loads(attr(path, "config"))


def reads(path, upstream):
    """Whether ``path``'s fingerprint names the current fingerprint of ``upstream``."""
    return f"{upstream.name} = {digest(attr(upstream, 'inputs'))}" in attr(path, "inputs").splitlines()


def one_line_error(result, *needles):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(n in lines[0] for n in needles), lines[0]


def test_thermometer_change_redoes_the_thermometer_flow_and_analysis_but_not_the_rbms(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    before = stamps(run)
    result = run_hpcrbm(["run", finished[1], "--out", run, "--set", "thermometer.epochs=4"])
    assert result.returncode == 0, result.stderr
    after = stamps(run)
    assert after["samples.h5"] == before["samples.h5"] and after["rbm.h5"] == before["rbm.h5"]
    assert all(after[f] != before[f] for f in ("thermometer.h5", "flow.h5", "analysis.h5"))
    assert config_of(run / "flow.h5").thermometer.epochs == 4
    assert reads(run / "flow.h5", run / "thermometer.h5") and reads(run / "flow.h5", run / "rbm.h5")


def test_a_deleted_thermometer_file_is_rebuilt_and_nothing_else(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    (run / "thermometer.h5").unlink()
    assert run_hpcrbm(["flow", run]).returncode == 0  # flow.h5 stays current: nothing to redo
    flow = run_hpcrbm(["flow", run, "--set", "flow.steps=4"])  # to redo it, the input is needed: named
    one_line_error(flow, "thermometer.h5: missing", f"hpcrbm thermometer {run}")
    flow_stamp = (run / "flow.h5").stat().st_mtime_ns
    result = run_hpcrbm(["run", finished[1], "--out", run])
    assert result.returncode == 0, result.stderr
    assert (run / "thermometer.h5").exists() and (run / "flow.h5").stat().st_mtime_ns == flow_stamp
    with h5py.File(finished[0] / "thermometer.h5") as a, h5py.File(run / "thermometer.h5") as b:
        assert np.array_equal(a["thermometer/field0/W1"][:], b["thermometer/field0/W1"][:])


def test_a_dataset_deleted_from_rbm_h5_is_rebuilt(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    with h5py.File(run / "rbm.h5", "r+") as h5:
        del h5["rbm/nh4/W"]
    one_line_error(run_hpcrbm(["flow", run, "--set", "flow.steps=4"]), "rbm.h5: lacks /rbm/nh4/W",
                   f"hpcrbm train {run}")
    result = run_hpcrbm(["run", finished[1], "--out", run])
    assert result.returncode == 0, result.stderr
    with h5py.File(finished[0] / "rbm.h5") as a, h5py.File(run / "rbm.h5") as b:
        assert np.array_equal(a["rbm/nh4/W"][:], b["rbm/nh4/W"][:])


@pytest.mark.slow
def test_readme_walkthrough_labels_every_file_with_what_made_it(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    for args in (["train", run, "--set", "rbm.epochs=5"], ["flow", run], ["analyze", run]):
        result = run_hpcrbm([*args, "--quiet"])
        assert result.returncode == 0, (args, result.stderr)
    for name in ("rbm.h5", "flow.h5", "analysis.h5"):
        assert config_of(run / name).rbm.epochs == 5, name
    assert reads(run / "flow.h5", run / "rbm.h5")
    with h5py.File(run / "rbm.h5") as h5:
        assert len(h5["rbm/nh4/history/epoch"]) == 5
    before = stamps(run)
    result = run_hpcrbm(["run", finished[1], "--out", run])  # back to the config's 3 epochs
    assert result.returncode == 0, result.stderr
    after = stamps(run)
    assert all(after[f] != before[f] for f in ("rbm.h5", "flow.h5", "analysis.h5"))
    assert after["thermometer.h5"] == before["thermometer.h5"]
    for name in ("rbm.h5", "flow.h5", "analysis.h5"):
        assert config_of(run / name).rbm.epochs == 3, name
    summary = json.loads((run / "summary.json").read_text())
    volatile = {k: summary[k] for k in ("created", "run_time")}
    assert summary == json.loads((finished[0] / "summary.json").read_text()) | volatile


@pytest.mark.parametrize("stage,override,section", [
    ("train", "model.L=8", "[rbm]"), ("flow", "rbm.epochs=2", "[flow]"), ("thermometer", "sampling.samples=10",
                                                                          "[thermometer]")])
def test_a_stage_sets_only_its_own_sections(finished, tmp_path, cli, stage, override, section):
    run = copy_of(finished, tmp_path)
    before = stamps(run)
    one_line_error(cli([stage, run, "--set", override]), f"--set {override.split('=')[0]}", section)
    assert stamps(run) == before


def test_stages_refuse_samples_from_another_run(finished, tmp_path):
    other = tmp_path / "other"
    result = run_hpcrbm(["simulate", finished[1], "--out", other, "--set", "run.seed=32", "--quiet"])
    assert result.returncode == 0, result.stderr
    run = copy_of(finished, tmp_path)
    shutil.copy(other / "samples.h5", run / "samples.h5")
    before = stamps(run)
    one_line_error(run_hpcrbm(["flow", run]), "rbm.h5: made from another config", f"hpcrbm train {run}")
    one_line_error(run_hpcrbm(["analyze", run]), "made from another config")
    assert stamps(run) == before


def test_an_interrupted_simulation_of_another_seed_is_refused_not_dropped(finished, tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text(CONFIG.replace("seed = 31", "seed = 31\ncheckpoint_interval = 0.2").replace("L = 4", "L = 32")
                      .replace("samples = 100", "samples = 4000\nreplicas = 4")
                      .replace("interval = 2", "interval = 10"))
    run = tmp_path / "run"
    assert kill_after_checkpoint(hpcrbm_command(["simulate", config, "--out", run, "--quiet"]), run)
    checkpoint = (run / "checkpoints" / "samples.h5").read_bytes()
    result = run_hpcrbm(["simulate", config, "--out", run, "--set", "run.seed=99"])
    one_line_error(result, "checkpoints/samples.h5", "different [model]/[sampling]/seed")
    assert (run / "checkpoints" / "samples.h5").read_bytes() == checkpoint


def test_campaign_status_uses_the_fingerprints(finished, tmp_path):
    base = tmp_path / "base.toml"
    base.write_text(CONFIG)
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(f'[campaign]\nbase = "base.toml"\nout = "{tmp_path / "c"}"\n[sweep]\n"run.seed" = [31]\n')
    shutil.copytree(finished[0], tmp_path / "c" / "seed31")
    status = json.loads(run_hpcrbm(["campaign", "status", campaign, "--json"]).stdout)
    assert status[0]["done"] and all(status[0][f] for f in FILES)
    base.write_text(CONFIG.replace("steps = 3", "steps = 4"))  # the base config edited: flow and analysis stale
    status = json.loads(run_hpcrbm(["campaign", "status", campaign, "--json"]).stdout)[0]
    assert not status["done"] and status["rbm.h5"] and not status["flow.h5"] and not status["analysis.h5"]


def test_snapshots_are_the_shorter_trainings_and_are_flowed(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    result = run_hpcrbm(["run", finished[1], "--out", run, "--set", "rbm.snapshots=[1, 2]", "--quiet"])
    assert result.returncode == 0, result.stderr
    short = tmp_path / "short"
    result = run_hpcrbm(["run", finished[1], "--out", short, "--set", "rbm.epochs=2", "--quiet"])
    assert result.returncode == 0, result.stderr
    with h5py.File(run / "rbm.h5") as a, h5py.File(short / "rbm.h5") as b, h5py.File(finished[0] / "rbm.h5") as c:
        assert np.array_equal(a["rbm/nh4/snapshots/epoch2/W"][:], b["rbm/nh4/W"][:])  # epoch 2 of 3 = 2 of 2
        assert np.array_equal(a["rbm/nh4/W"][:], c["rbm/nh4/W"][:])  # keeping snapshots changes nothing else
    with h5py.File(run / "flow.h5") as h5:
        assert {"nh4_epoch1", "nh4_epoch2", "nh4"} <= set(h5["flow"])
    training = json.loads((run / "summary.json").read_text())["training"]
    assert sorted({(e["epoch"], e["mode"]) for e in training}) == [(e, m) for e in (1, 2, 3)
                                                                    for m in ("mean-field", "sample")]
    assert (run / "figures" / "fixed_points_vs_epochs.png").exists()
