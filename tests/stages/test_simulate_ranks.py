"""samples.h5 does not depend on the rank count or the writer; kill and resume is invisible."""

import h5py
import numpy as np
import pytest

from ..conftest import hpcrbm_command, kill_after_checkpoint, needs_mpiexec, run_hpcrbm

CONFIG = """
[run]
seed = 77
[model]
dim = {dim}
L = {L}
[sampling]
temperatures = [1.2, 2.0, 2.3, 2.6, 3.5]
fields = [0.0, 0.4]
thermalize = 50
samples = 40
interval = 3
replicas = 8
start = "random"
"""


def read(path):
    with h5py.File(path) as h5:
        data = {name: h5[name][:] for name in ("configs", "observables/energy", "observables/magnetization",
                                               "summary/energy", "summary/specific_heat", "summary/binder")}
        assert h5.attrs["complete"]
        return data


def assert_same(a, b):
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=True), name


@needs_mpiexec
@pytest.mark.parametrize("dim,L", [(2, 6), (1, 9)])
def test_configs_identical_on_1_2_3_ranks_and_both_writers(tmp_path, write_config, dim, L):
    config = write_config(CONFIG.format(dim=dim, L=L))
    results = {}
    for ranks, writer in ((None, None), (2, None), (3, None), (3, "root")):
        out = tmp_path / f"run-{ranks}-{writer}"
        res = run_hpcrbm(["simulate", config, "--out", out, "--quiet"], ranks=ranks,
                         env={"HPCRBM_WRITER": writer} if writer else None)
        assert res.returncode == 0, res.stderr
        results[(ranks, writer)] = read(out / "samples.h5")
    first = results[(None, None)]
    for data in results.values():
        assert_same(first, data)
    assert len(np.unique(first["configs"][3, 0].reshape(40, -1), axis=0)) > 30  # T = 2.6: disordered


SLOW_CONFIG = """
[run]
seed = 3
checkpoint_interval = 0.3
[model]
dim = 2
L = 32
[sampling]
temperatures = [1.5, 2.0, 2.27, 2.5, 3.0]
fields = [0.0, 0.2]
thermalize = 200
samples = 2000
interval = 20
replicas = 2
"""


TEMPERING_POTTS = """
[model]
kind = "potts"
q = 3
[sampling]
tempering = true
exchange_every = 10
temperatures = [0.8, 0.9, 0.995, 1.1, 1.3]
"""


def merge(base, extra):
    """TOML text with the keys of ``extra`` replacing those of ``base``, section by section."""
    import tomllib

    from hpcrbm.config import from_dict, to_toml
    data = tomllib.loads(base)
    for section, table in tomllib.loads(extra).items():
        data.setdefault(section, {}).update(table)
    return to_toml(from_dict(data))


@pytest.mark.slow
@needs_mpiexec
@pytest.mark.parametrize("ranks,variant", [(None, ""), (2, ""), (2, TEMPERING_POTTS)])
def test_kill_and_resume_gives_identical_results(tmp_path, write_config, ranks, variant):
    config = write_config(merge(SLOW_CONFIG, variant))
    reference = tmp_path / "reference"
    res = run_hpcrbm(["simulate", config, "--out", reference, "--quiet"], ranks=ranks)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "killed"
    killed_mid_run = kill_after_checkpoint(hpcrbm_command(["simulate", config, "--out", out, "--quiet"], ranks), out)
    assert killed_mid_run, "the run finished before it could be killed; make SLOW_CONFIG longer"
    assert not (out / "samples.h5").exists()
    assert (out / "checkpoints" / "samples.h5").exists()
    res = run_hpcrbm(["simulate", config, "--out", out], ranks=ranks)
    assert res.returncode == 0, res.stderr
    assert "resuming" in res.stderr
    assert_same(read(reference / "samples.h5"), read(out / "samples.h5"))
    assert not (out / "checkpoints" / "samples.h5").exists()
