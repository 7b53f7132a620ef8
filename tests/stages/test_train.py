"""``hpcrbm train RUN_DIR`` end to end: rbm.h5, rank-count invariance, kill and resume, bad input."""
import shutil

import h5py
import numpy as np
import pytest

from hpcrbm.config import load
from hpcrbm.parallel import Communicator
from hpcrbm.stages.train import training_data

from ..conftest import hpcrbm_command, kill_after_checkpoint, needs_mpiexec, run_hpcrbm

CONFIG = """
[run]
seed = 8
checkpoint_interval = 0.2
[model]
dim = 2
L = 4
[sampling]
temperatures = [1.5, 2.0, 2.5, 3.0, 4.0]
fields = [0.0]
thermalize = 100
samples = 200
interval = 2
[rbm]
hidden = [4, 24]
batch_size = 40
epochs = 6
learning_rate = 0.05
dtype = "float64"
ais_chains = 20
ais_steps = 100
"""


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    config = root / "config.toml"
    config.write_text(CONFIG)
    result = run_hpcrbm(["simulate", config, "--out", root / "run", "--quiet"])
    assert result.returncode == 0, result.stderr
    return root / "run"


def fresh_copy(simulated, tmp_path, name):
    target = tmp_path / name
    target.mkdir()
    shutil.copy(simulated / "samples.h5", target / "samples.h5")
    return target


def weights(path):
    """Every array of every trained RBM in rbm.h5, snapshots included."""
    out = {}
    with h5py.File(path) as h5:
        assert h5.attrs["complete"]
        h5["rbm"].visititems(lambda name, obj: out.__setitem__(name, obj[:]) if isinstance(obj, h5py.Dataset)
                             and "history" not in name else None)
    return out


def test_rbm_file_layout_and_history(simulated, tmp_path):
    run = fresh_copy(simulated, tmp_path, "layout")
    (run / "rbm.h5").write_bytes(b"not HDF5")  # a corrupt output is not complete: the stage writes it again
    result = run_hpcrbm(["train", run, "--quiet"])
    assert result.returncode == 0, result.stderr
    with h5py.File(run / "rbm.h5") as h5:
        assert h5["rbm/nh4/W"].shape == (4, 16) and h5["rbm/nh4/b"].shape == (16,) and h5["rbm/nh4/c"].shape == (4,)
        history = h5["rbm/nh4/history"]
        ll = history["log_likelihood"][:]
        assert len(ll) == 6 and ll[-1] > ll[0]
        assert np.all(np.isfinite(history["pseudo_likelihood"][:]))
        assert h5["rbm/nh4"].attrs["log_likelihood_method"] == "exact"
        big = h5["rbm/nh24"].attrs
        assert big["log_likelihood_method"] == "ais" and big["log_partition_err"] > 0
        assert h5.attrs["stage"] == "train" and "config" in h5.attrs
        assert h5["controls/random/W"].shape == (24, 16) and not np.any(h5["controls/random/b"][:])
        assert h5["controls/extremes/W"].shape == (24, 16) and len(h5["controls/extremes/history/epoch"]) == 6
    assert not (run / "checkpoints" / "rbm_nh4.h5").exists()
    assert not (run / "thermometer.h5").exists()  # the thermometer is a stage of its own


def test_thermometer_stage_writes_its_own_file(simulated, tmp_path):
    run = fresh_copy(simulated, tmp_path, "thermometer")
    result = run_hpcrbm(["thermometer", run, "--quiet"])
    assert result.returncode == 0, result.stderr
    assert not (run / "rbm.h5").exists()
    with h5py.File(run / "thermometer.h5") as h5:
        assert h5.attrs["stage"] == "thermometer" and h5.attrs["complete"]
        inputs = h5.attrs["inputs"].splitlines()
        assert inputs[-1].startswith("samples.h5 = ") and not any(line.startswith("rbm.") for line in inputs)
        g = h5["thermometer/field0"]
        assert g["W2"].shape == (5, 64) and 0.2 < g.attrs["accuracy"] <= 1  # 5 temperatures: chance is 0.2
        mean = g["calibration/predicted_mean"][:]
        assert mean[-1] > mean[0]  # hotter configurations read hotter


@needs_mpiexec
def test_weights_do_not_depend_on_rank_count(simulated, tmp_path):
    results = {}
    for ranks in (None, 2, 3):
        run = fresh_copy(simulated, tmp_path, f"ranks{ranks}")
        result = run_hpcrbm(["train", run, "--quiet"], ranks=ranks)
        assert result.returncode == 0, result.stderr
        results[ranks] = weights(run / "rbm.h5")
    for ranks in (2, 3):
        for name, value in results[None].items():
            assert np.array_equal(results[ranks][name], value), (ranks, name)  # bit for bit


CRITIQUE = ["--set", "rbm.hidden=[4]", "--set", "rbm.method='cd'", "--set", "rbm.biases=false", "--set",
            "rbm.init_std=0.1", "--set", "rbm.random_sign=true", "--set", "rbm.train_fraction=0.8", "--set",
            "rbm.seeds=3"]


def test_training_data_with_random_signs_and_a_held_out_fraction(simulated):
    cfg = load(simulated.parent / "config.toml", ["rbm.random_sign=true", "rbm.train_fraction=0.8"])
    data, first, n_total = training_data(simulated / "samples.h5", cfg, Communicator(None))
    plain, _, _ = training_data(simulated / "samples.h5", load(simulated.parent / "config.toml"), Communicator(None))
    assert (first, n_total, data.shape) == (0, 5 * 160, (5 * 160, 16))
    kept = plain.reshape(5, 200, 16)[:, :160].reshape(-1, 16)  # the first 80% of every temperature
    flipped = np.all(data == 1 - kept, axis=1) & ~np.all(data == kept, axis=1)
    assert np.all(flipped | np.all(data == kept, axis=1))  # every configuration whole, or whole reversed
    assert abs(flipped.mean() - 0.5) < 4 * 0.5 / np.sqrt(len(data))  # a fair sign per configuration


@needs_mpiexec
def test_seeds_without_biases_the_same_on_any_ranks_split_by_models_or_data(simulated, tmp_path):
    """Three training seeds of the critique's RBM (no biases, W ~ N(0, 0.1^2), CD-1): b = c = 0,
    the seeds differ, and 1 rank, 2 ranks with one RBM each and 3 ranks data-parallel give the
    same weights bit for bit."""
    results = {}
    for ranks, parallel in ((None, "data"), (2, "models"), (3, "data")):
        run = fresh_copy(simulated, tmp_path, f"critique{ranks}")
        result = run_hpcrbm(["train", run, "--quiet", *CRITIQUE, "--set", f"rbm.parallel='{parallel}'"],
                            ranks=ranks)
        assert result.returncode == 0, result.stderr
        results[ranks] = weights(run / "rbm.h5")
        assert not list((run / "checkpoints").glob("rbm_*.h5"))
    first = results[None]
    assert sorted(k for k in first if k.endswith("/W")) == ["nh4/W", "nh4_seed1/W", "nh4_seed2/W"]
    assert not any(np.any(first[f"{k}/{x}"]) for k in ("nh4", "nh4_seed1", "nh4_seed2") for x in "bc")
    assert not np.array_equal(first["nh4/W"], first["nh4_seed1/W"])
    for ranks in (2, 3):
        for name, value in first.items():
            assert np.array_equal(results[ranks][name], value), (ranks, name)


@needs_mpiexec
@pytest.mark.parametrize("ranks", [None, 2])
def test_kill_and_resume_training(simulated, tmp_path, ranks):
    overrides = ["--set", "rbm.epochs=400", "--set", "rbm.hidden=[6]", "--set", "rbm.snapshots=[2, 300]"]
    reference = fresh_copy(simulated, tmp_path, "reference")
    assert run_hpcrbm(["train", reference, "--quiet", *overrides], ranks=ranks).returncode == 0
    run = fresh_copy(simulated, tmp_path, "killed")
    cmd = hpcrbm_command(["train", run, "--quiet", *overrides], ranks)
    assert kill_after_checkpoint(cmd, run, checkpoint=run / "checkpoints" / "rbm_nh6.h5")
    assert not (run / "rbm.h5").exists()
    result = run_hpcrbm(["train", run, *overrides], ranks=ranks)
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stderr
    a, b = weights(reference / "rbm.h5"), weights(run / "rbm.h5")
    assert "nh6/snapshots/epoch300/W" in a and a.keys() == b.keys()  # snapshots survive the kill
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("override,needle", [
    ("rbm.hidden=[0]", "rbm.hidden"),
    ("rbm.learning_rate=0", "rbm.learning_rate"),
    ("rbm.learning_rate=-0.1", "rbm.learning_rate"),
    ("rbm.batch_size=100000", "rbm.batch_size"),
    ("rbm.visible='gaussian'", "rbm.visible"),
])
def test_bad_rbm_values_exit_2_without_output(simulated, tmp_path, cli, override, needle):
    run = fresh_copy(simulated, tmp_path, "bad")
    result = cli(["train", run, "--set", override])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr
    assert not (run / "rbm.h5").exists()


def test_train_without_samples_is_bad_input(tmp_path, cli):
    result = cli(["train", tmp_path])
    assert result.returncode == 2 and "samples.h5" in result.stderr


def test_jobs_go_costliest_first_to_the_least_loaded_rank():
    from hpcrbm.stages.train import job_owners
    assert job_owners([16, 36, 64, 100, 100], 2) == [1, 1, 0, 0, 1]  # loads 164 and 152
    assert job_owners([5, 5, 5], 3) == [0, 1, 2] and job_owners([1, 2], 1) == [0, 0]


def test_auto_parallel_mode_gives_whole_rbms_when_there_are_enough_and_the_data_fit():
    from hpcrbm.config import loads
    from hpcrbm.stages.train import parallel_mode
    base = "[model]\nL = 10\n[sampling]\ntemperatures = [1.0, 2.0]\nsamples = 100\n[rbm]\nhidden = [4, 8]\n"
    assert [parallel_mode(loads(base), ranks) for ranks in (1, 2, 3)] == ["data", "models", "data"]
    assert parallel_mode(loads(base + "parallel = 'data'\n"), 2) == "data"
    huge = base.replace("samples = 100", "samples = 3000000")  # 2 x 3e6 x 100 float32: 2.4 GB
    assert parallel_mode(loads(huge), 2) == "data"
    assert parallel_mode(loads(huge + "parallel = 'models'\n"), 2) == "models"
