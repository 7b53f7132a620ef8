"""``hpcrbm flow RUN_DIR``: flow.h5 layout, rank-count invariance, missing inputs."""
import shutil

import h5py
import numpy as np
import pytest

from ..conftest import needs_mpiexec, run_hpcrbm

CONFIG = """
[run]
seed = 12
[model]
dim = 2
L = 4
[sampling]
temperatures = [1.5, 2.27, 3.5]
fields = [0.0, 0.5]
thermalize = 100
samples = 100
interval = 2
[rbm]
hidden = [4]
batch_size = 50
epochs = 3
learning_rate = 0.05
[flow]
steps = 4
samples = 20
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    config = root / "config.toml"
    config.write_text(CONFIG)
    run = root / "run"
    for args in (["simulate", config, "--out", run, "--quiet"], ["train", run, "--quiet"],
                 ["thermometer", run, "--quiet"]):
        result = run_hpcrbm(args)
        assert result.returncode == 0, result.stderr
    return run


def copy_run(trained, tmp_path, name):
    target = tmp_path / name
    shutil.copytree(trained, target)
    return target


@needs_mpiexec
def test_flow_file_layout_and_rank_invariance(trained, tmp_path):
    files = {}
    for ranks in (None, 2):
        run = copy_run(trained, tmp_path, f"r{ranks}")
        result = run_hpcrbm(["flow", run, "--quiet"], ranks=ranks)
        assert result.returncode == 0, result.stderr
        files[ranks] = h5py.File(run / "flow.h5")
    one, two = files[None], files[2]
    kinds = one["starts/kind"][:].astype(str)
    assert list(kinds) == ["mc"] * 6 + ["up"] * 2 + ["random"] * 2
    for mode in ("mean-field", "sample"):
        group = one[f"flow/nh4/{mode}"]
        assert group["energy"].shape == (10, 5) and group["temperature_energy"].shape == (10, 5)
        assert ("probability_energy" in group) == (mode == "mean-field")
        for name in group:
            assert np.array_equal(group[name][:], two[f"flow/nh4/{mode}/{name}"][:], equal_nan=True), name
    start_energy = one["flow/nh4/sample/energy"][:6, 0]
    with h5py.File(trained / "samples.h5") as h5:
        mc = h5["observables/energy"][:, :, :20].mean(axis=2).reshape(-1)
    assert np.allclose(start_energy, mc)  # step 0 is the Monte Carlo start itself
    assert one.attrs["complete"] and one.attrs["stage"] == "flow"


def test_flow_without_rbm_is_bad_input(trained, tmp_path):
    run = copy_run(trained, tmp_path, "no-rbm")
    (run / "rbm.h5").unlink()
    result = run_hpcrbm(["flow", run])
    assert result.returncode == 2 and "rbm.h5" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind,q", [("potts", 3), ("clock", 4)])
def test_categorical_pipeline_for_potts_and_clock(tmp_path, kind, q):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.replace("[model]\n", f"[model]\nkind = '{kind}'\nq = {q}\n")
                      .replace("temperatures = [1.5, 2.27, 3.5]", "temperatures = [0.6, 1.0, 2.0]")
                      .replace("fields = [0.0, 0.5]", "fields = [0.0]"))
    run = tmp_path / "run"
    for args in (["simulate", config, "--out", run, "--quiet"], ["train", run, "--quiet"],
                 ["thermometer", run, "--quiet"], ["flow", run, "--quiet"], ["analyze", run]):
        result = run_hpcrbm(args)
        assert result.returncode == 0, (args[0], result.stderr)
    with h5py.File(run / "rbm.h5") as h5:
        assert h5["rbm/nh4/W"].shape == (4, 16, q) and np.allclose(h5["rbm/nh4/W"][:].sum(axis=2), 0, atol=1e-5)
    with h5py.File(run / "flow.h5") as h5:
        m = h5["flow/nh4/sample/abs_magnetization"][:]
        assert np.all((m >= 0) & (m <= 1))
        assert np.all(np.isfinite(h5["flow/nh4/mean-field/probability_energy"][:]))
