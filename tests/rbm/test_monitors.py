"""rbm.stop = "plateau": training ends once its monitors stop improving (rbm/monitors.py), at the
same epoch on any number of ranks; every run's summary says how each RBM was trained."""
import json

import h5py
import numpy as np
import pytest

from hpcrbm.rbm.monitors import plateau_reached, stopped_improving, trend

from ..conftest import TINY_RUN, needs_mpiexec, run_hpcrbm


def history(ll=None, pl=None, rec=None, n=40):
    epochs = np.arange(1, n + 1)
    return {"epoch": epochs, "log_likelihood": ll if ll is not None else np.full(n, np.nan),
            "pseudo_likelihood": pl if pl is not None else np.zeros(n),
            "reconstruction_error": rec if rec is not None else np.zeros(n)}


def test_the_rule_reads_the_exact_likelihood_where_it_exists_else_both_estimates():
    rising = -100 + np.arange(40) * 0.5  # 0.5 nats per epoch, 100 units: 5e-3 per unit per epoch
    flat = np.full(40, -60.0)
    assert trend(history(ll=rising), 100, 10)["monitors"] == {"log_likelihood": pytest.approx(5e-3)}
    assert not stopped_improving(history(ll=rising), 100, 10, 1e-3)
    assert stopped_improving(history(ll=flat), 100, 10, 1e-3)
    # estimates: both must have stopped; a falling reconstruction error is an improvement
    falling = 0.3 - np.arange(40) * 1e-3
    assert not stopped_improving(history(pl=flat, rec=falling), 100, 10, 1e-4)
    assert stopped_improving(history(pl=flat, rec=np.full(40, 0.2)), 100, 10, 1e-4)
    # checked at multiples of the window from two windows on
    assert not plateau_reached(history(ll=flat, n=39), 100, 10, 1e-3)
    assert plateau_reached(history(ll=flat, n=40), 100, 10, 1e-3)
    assert not plateau_reached(history(ll=flat, n=19), 100, 10, 1e-3)


# the session's tiny run, trained to the plateau rule (at most 400 epochs)
CONFIG = TINY_RUN.replace("epochs = 3\n", "epochs = 400\nstop = \"plateau\"\npatience = 10\ntolerance = 1e-3\n")


@pytest.mark.slow
@needs_mpiexec
def test_plateau_stops_early_at_the_same_epoch_on_1_and_2_ranks(tmp_path, write_config):
    config = write_config(CONFIG)
    runs = {}
    for ranks in (None, 2):
        out = tmp_path / f"ranks{ranks}"
        result = run_hpcrbm(["run", config, "--out", out, "--quiet"], ranks=ranks)
        assert result.returncode == 0, result.stderr
        with h5py.File(out / "rbm.h5") as h5:
            g = h5["rbm/nh4"]
            runs[ranks] = (g["W"][...], g["history/epoch"][...], g.attrs["stopped_by"])
        record = json.loads((out / "summary.json").read_text())["rbms"]
        assert [(r["key"], r["epochs"], r["stopped_by"], r["stopped_improving"]) for r in record] == [
            ("nh4", len(runs[ranks][1]), "plateau", True)]
    (w1, e1, s1), (w2, e2, s2) = runs[None], runs[2]
    assert s2 == s1
    assert s1 == "plateau" and 20 <= len(e1) < 400 and len(e1) % 10 == 0, (s1, len(e1))
    assert len(e1) == len(e2) and (w1 == w2).all()


def test_plateau_with_snapshots_is_bad_input(write_config, cli, tmp_path):
    result = cli(["simulate", write_config(CONFIG + "\n"), "--out", tmp_path / "r", "--set", "rbm.snapshots=[5]"])
    assert result.returncode == 2 and "rbm.snapshots: need rbm.stop" in result.stderr, result.stderr
