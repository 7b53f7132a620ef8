"""Parallel tempering: exact energies from an all-up start, identical on 1 and 3 ranks."""
import h5py
import numpy as np

from hpcrbm.exact import kaufman_observables
from hpcrbm.grid import Grid
from hpcrbm.montecarlo.tempering import Tempering

from ..conftest import needs_mpiexec, run_hpcrbm

CONFIG = """
[run]
seed = 41
[model]
dim = 2
L = 8
[sampling]
temperatures = {{ start = 0.5, stop = 5.0, step = 0.25 }}
fields = [0.0]
thermalize = 400
samples = 1600
interval = 4
replicas = 16
start = "up"
tempering = true
exchange_every = 4
algorithm = "{algorithm}"
"""


@needs_mpiexec
def test_tempering_from_all_up_is_exact_and_rank_independent(tmp_path, write_config):
    config = write_config(CONFIG.format(algorithm="metropolis"))
    files = {}
    for ranks in (None, 3):
        out = tmp_path / f"ranks-{ranks}"
        result = run_hpcrbm(["simulate", config, "--out", out, "--quiet"], ranks=ranks)
        assert result.returncode == 0, result.stderr
        files[ranks] = h5py.File(out / "samples.h5")
    one, three = files[None], files[3]
    for name in ("configs", "observables/energy", "tempering/walker", "tempering/accepted", "tempering/round_trips"):
        assert np.array_equal(one[name][:], three[name][:]), name
    T = one["temperatures"][:]
    u_exact, _ = kaufman_observables(T, 8)
    u, du = one["summary/energy"][:, 0], one["summary/energy_err"][:, 0]
    fluctuating = du > 0  # at T = 0.5 every sample is the ground state
    z = (u - u_exact)[fluctuating] / du[fluctuating]
    assert np.all(np.abs(z) < 4), z
    assert np.all(np.abs(u - u_exact)[~fluctuating] < 1e-3)
    acceptance = one["tempering/acceptance"][:, 0]
    assert acceptance.shape == (T.size - 1,) and np.all((acceptance > 0.1) & (acceptance <= 1))
    assert one["tempering/round_trips"][0] > 0
    walkers = one["tempering/walker"][:]
    assert np.array_equal(np.sort(walkers.reshape(-1)), np.arange(walkers.size))


def test_round_trip_bookkeeping():
    tempering = Tempering(Grid((1.0, 2.0, 3.0), (0.0,)), replicas=1)
    up = lambda iT: (iT, 0, np.array([True]))  # noqa: E731
    tempering.record([], True)  # walker 0 at lowest T: heading up
    for iT in (0, 1):  # walker 0 climbs to the highest T
        tempering.record([up(iT)], True)
    assert tempering.walker[2, 0, 0] == 0 and tempering.round_trips[0] == 0
    for iT in (1, 0):  # and comes back down
        tempering.record([up(iT)], True)
    assert tempering.walker[0, 0, 0] == 0 and tempering.round_trips[0] == 1
    assert tempering.attempts.sum() == 4 and tempering.accepted.sum() == 4
