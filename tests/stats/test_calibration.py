"""The Monte Carlo error bars are calibrated as a whole (issue 26): the z-scores of every exact
check (u and c of the 2D Ising model at L = 16 against Kaufman, 8 temperatures through Tc, 8
seeds) are distributed like a normal deviate: their counts beyond 2, 3 and 4 sigma and their mean
square are within the 0.1 % tails. A hard case on purpose: one replica per point, a sample every
sweep, tau_int up to about 30 rounds near Tc, where 32 fixed segments of 31 rounds gave
6 of 128 beyond 3 sigma and 2 beyond 4 (mean z^2 = 1.8)."""
import math

import numpy as np
import pytest
from scipy import stats

from hpcrbm.analysis.observables import validation
from hpcrbm.backend import select_backend
from hpcrbm.config import loads
from hpcrbm.io import files
from hpcrbm.parallel import Communicator
from hpcrbm.pipeline import run_stage
from hpcrbm.stages.simulate import STAGE

CONFIG = """
[run]
seed = {seed}
[model]
dim = 2
L = 16
[sampling]
temperatures = [1.6, 2.0, 2.2, 2.3, 2.4, 2.6, 3.0, 3.5]
fields = [0.0]
thermalize = 200
samples = 1000
interval = 1
replicas = 1
"""


@pytest.mark.slow
def test_z_scores_of_every_exact_check_are_normal(tmp_path):
    comm, backend = Communicator.world(), select_backend("cpu")
    z = []
    for seed in range(1, 9):
        cfg = loads(CONFIG.format(seed=seed), [f"run.out='{tmp_path / str(seed)}'"])
        run_stage(STAGE, cfg, comm, backend, quiet=True)
        checks = validation(cfg, files.read_samples_summary(cfg.out_dir / files.SAMPLES))["checks"]
        z += [c["z"] for c in checks if math.isfinite(c["z"])]
    z = np.array(z)
    assert len(z) >= 100, len(z)  # few points without an error (a single block) are not judged
    for k in (2, 3, 4):
        p_beyond = 2 * stats.norm.sf(k)
        count = int((abs(z) > k).sum())
        assert stats.binom.sf(count - 1, len(z), p_beyond) >= 1e-3, (k, count, len(z))  # not too many
        assert stats.binom.cdf(count, len(z), p_beyond) >= 1e-3, (k, count, len(z))  # nor too few
    chi2 = float((z**2).sum())
    assert stats.chi2.sf(chi2, len(z)) >= 1e-3 and stats.chi2.cdf(chi2, len(z)) >= 1e-3, chi2 / len(z)
