"""End to end: ``hpcrbm run`` (with a kill in the middle), campaigns, post-hoc tools."""
import csv
import json

import h5py
import numpy as np
import pytest

from tools.compare_runs import compare_h5, compare_json

from ..conftest import copy_run, hpcrbm_command, kill_after_checkpoint, needs_mpiexec, run_hpcrbm

CONFIG = """
[run]
seed = 21
checkpoint_interval = 0.2
[model]
dim = 2
L = 4
[sampling]
temperatures = [1.5, 2.27, 3.5]
fields = [0.0]
thermalize = 100
samples = 200
interval = 2
[rbm]
hidden = [4]
batch_size = 20
epochs = 150
learning_rate = 0.02
[thermometer]
epochs = 3
[flow]
steps = 3
samples = 10
"""


def summary_without_time(path):
    data = json.loads(path.read_text())
    data.pop("created")
    data.pop("run_time")
    return data


@pytest.mark.slow
@needs_mpiexec
def test_run_killed_during_training_resumes_to_the_same_summary(tmp_path, write_config):
    # long enough that two timed checkpoints (0.2 s apart) come before training ends, however fast
    config = write_config(CONFIG.replace("epochs = 150", "epochs = 600"))
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    result = run_hpcrbm(["run", config, "--out", reference, "--quiet"], ranks=2)
    assert result.returncode == 0, result.stderr
    cmd = hpcrbm_command(["run", config, "--out", killed, "--quiet"], 2)
    assert kill_after_checkpoint(cmd, killed, checkpoint=killed / "checkpoints" / "rbm_nh4.h5")
    assert (killed / "samples.h5").exists() and not (killed / "rbm.h5").exists()
    assert not (killed / "summary.json").exists()
    result = run_hpcrbm(["run", config, "--out", killed], ranks=2)
    assert result.returncode == 0, result.stderr
    assert "resuming at epoch" in result.stderr and "samples.h5 is complete" in result.stderr
    assert summary_without_time(reference / "summary.json") == summary_without_time(killed / "summary.json")
    with h5py.File(reference / "rbm.h5") as a, h5py.File(killed / "rbm.h5") as b:
        assert np.array_equal(a["rbm/nh4/W"][:], b["rbm/nh4/W"][:])
    again = run_hpcrbm(["run", config, "--out", killed], ranks=2)
    assert again.returncode == 0 and again.stderr.count("nothing to do") == 5  # one per stage


@pytest.mark.slow
@needs_mpiexec
def test_every_file_and_the_summary_are_identical_on_1_2_and_3_ranks(tmp_path, write_config):
    """Bit for bit: samples, RBM weights (exact gradient sums), thermometer, flows, analysis and
    summary.json, whatever the rank count (PCD, CD-k, and two training seeds without biases, one
    RBM per rank, with a two-layer thermometer)."""
    config = write_config(CONFIG.replace("epochs = 150", "epochs = 4"))
    variants = {"pcd": ["rbm.method='pcd'"], "cd": ["rbm.method='cd'"],
                "seeds": ["rbm.method='cd'", "rbm.seeds=2", "rbm.biases=false", "rbm.parallel='models'",
                          "thermometer.hidden=[8, 4]"]}
    for method, overrides in variants.items():
        runs = []
        for ranks in (None, 2, 3):
            out = tmp_path / f"{method}{ranks}"
            result = run_hpcrbm(["run", config, "--out", out, "--quiet"] + [x for o in overrides for x in ("--set", o)],
                                ranks=ranks)
            assert result.returncode == 0, result.stderr
            runs.append(out)
        for other in runs[1:]:
            diffs = [d for name in ("samples.h5", "rbm.h5", "thermometer.h5", "flow.h5", "analysis.h5")
                     for d in compare_h5(runs[0] / name, other / name) if "attribute config" not in d]
            diffs += compare_json(json.loads((runs[0] / "summary.json").read_text()),
                                  json.loads((other / "summary.json").read_text()))
            assert not diffs, (method, other.name, diffs[:5])


def test_changed_rbm_settings_retrain_but_keep_the_samples(tmp_path, tiny_run):
    out = copy_run(tiny_run[0], tmp_path / "run")  # a finished run with learning_rate = 0.05
    samples_before = (out / "samples.h5").stat().st_mtime_ns
    result = run_hpcrbm(["run", tiny_run[1], "--out", out, "--set", "rbm.learning_rate=0.02"])
    assert result.returncode == 0, result.stderr
    assert "samples.h5 is complete" in result.stderr and "rbm.h5 is complete" not in result.stderr
    assert (out / "samples.h5").stat().st_mtime_ns == samples_before
    with h5py.File(out / "rbm.h5") as h5:
        assert "learning_rate = 0.02" in h5.attrs["config"]


@pytest.mark.slow
def test_campaign_runs_status_and_posthoc_tools(tmp_path, write_config):
    base = write_config(CONFIG.replace("epochs = 150", "epochs = 2"), "base.toml")
    campaign = write_config(f"""
[campaign]
name = "tiny"
base = "{base.name}"
out = "{tmp_path / 'campaign'}"
[sweep]
"run.seed" = [1, 2]
""", "campaign.toml")
    listing = run_hpcrbm(["campaign", "list", campaign])
    assert listing.returncode == 0 and len(listing.stdout.strip().splitlines()) == 2
    before = json.loads(run_hpcrbm(["campaign", "status", campaign, "--json"]).stdout)
    assert [r["done"] for r in before] == [False, False]
    assert run_hpcrbm(["campaign", "run", campaign, "--index", "1", "--quiet"]).returncode == 0
    status = json.loads(run_hpcrbm(["campaign", "status", campaign, "--json"]).stdout)
    assert [r["done"] for r in status] == [False, True]
    assert run_hpcrbm(["campaign", "run", campaign, "--quiet"]).returncode == 0
    status = run_hpcrbm(["campaign", "status", campaign])
    assert "2 of 2 runs done" in status.stdout
    bad = run_hpcrbm(["campaign", "run", campaign, "--index", "5"])
    assert bad.returncode == 2 and "--index" in bad.stderr

    runs = [tmp_path / "campaign" / "seed1", tmp_path / "campaign" / "seed2"]
    table = tmp_path / "merged.csv"
    assert run_hpcrbm(["merge", *runs, "--csv", table]).returncode == 0
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 2 * (2 + 4)  # 2 runs x (1 RBM + 2 controls) x 2 modes
    assert {r["control"] for r in rows} == {"", "random", "extremes"}
    observables = tmp_path / "observables.csv"
    assert run_hpcrbm(["export", runs[0], "--csv", observables]).returncode == 0
    rows = list(csv.DictReader(observables.open()))
    assert len(rows) == 3 and float(rows[0]["temperature"]) == 1.5 and "specific_heat_err" in rows[0]
    for png in (runs[0] / "figures").glob("*.png"):
        png.unlink()
    assert run_hpcrbm(["redraw", runs[0]]).returncode == 0
    assert (runs[0] / "figures" / "flow_temperatures.png").exists()


@pytest.mark.parametrize("text,needle", [
    ('[campaign]\nbase = "base.toml"\n[sweep]\n"model.LL" = [1]', "model.LL"),
    ('[campaign]\nbase = "base.toml"\n[sweep]\n"model.L" = []', "model.L"),
    ('[campaign]\nname = "x"', "base"),
    ('[campaign]\nbase = "base.toml"\n[sweeps]\n"model.L" = [4]', "sweeps"),
])
def test_bad_campaign_files(tmp_path, write_config, cli, text, needle):
    write_config(CONFIG, "base.toml")
    result = cli(["campaign", "run", write_config(text, "campaign.toml")])
    assert result.returncode == 2 and needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
