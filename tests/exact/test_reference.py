"""exact/reference.py: one decision of which exact result applies, with J and the field."""
import h5py
import numpy as np
import pytest

from hpcrbm.analysis.observables import specific_heat_peak
from hpcrbm.analysis.rg import rg_flow
from hpcrbm.config import ModelConfig, loads
from hpcrbm.exact import kaufman_observables, ring_observables
from hpcrbm.exact.reference import critical_temperature, exact_observables, exact_specific_heat_peak
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.updaters import make_updater
from hpcrbm.thermometers.curve import CurveThermometer

TC = 2 / np.log(1 + np.sqrt(2))


def ising(L=10, J=1.0, dim=2, kind="ising", q=2):
    return ModelConfig(kind=kind, dim=dim, L=L, q=q, J=J)


@pytest.mark.parametrize("J", [1.0, 1.5, -1.0, 0.5])
def test_ising_tc_scales_with_abs_j(J):
    assert critical_temperature(ising(J=J)) == pytest.approx(abs(J) * TC, rel=1e-14)
    assert np.isnan(critical_temperature(ising(J=J), field=0.1))  # no transition in a field
    assert np.isnan(critical_temperature(ising(J=J, dim=1, L=12)))


def test_model_tcs():
    assert critical_temperature(ising(kind="potts", q=3)) == pytest.approx(1 / np.log(1 + np.sqrt(3)))
    assert critical_temperature(ising(kind="potts", q=3, J=2.0)) == pytest.approx(2 / np.log(1 + np.sqrt(3)))
    assert np.isnan(critical_temperature(ising(kind="potts", q=3, J=-1.0)))  # antiferromagnetic Potts: unknown here
    assert critical_temperature(ising(kind="clock", q=4, J=-2.0)) == pytest.approx(2 / np.log(1 + np.sqrt(2)))


def test_exact_observables_scale_with_j_and_map_antiferromagnets():
    T = np.array([1.0, 2.5, 4.0])
    u1, c1 = kaufman_observables(T / 1.5, 10)
    u, c = exact_observables(ising(J=1.5), T)
    assert np.allclose(u, 1.5 * u1, rtol=1e-12) and np.allclose(c, c1, rtol=1e-12)
    ua, ca = exact_observables(ising(J=-1.0), T)  # the bipartite torus: J -> -J is a gauge transformation
    ub, cb = exact_observables(ising(J=1.0), T)
    assert np.array_equal(ua, ub) and np.array_equal(ca, cb)
    assert exact_observables(ising(L=12, J=1.0), T, field=0.2) is None  # in a field: transfer matrix up to L = 10
    ur, cr = exact_observables(ising(dim=1, L=12, J=-0.7), T, field=0.3)
    for t, u, c in zip(T, ur, cr):
        assert (u, c) == tuple(np.asarray(ring_observables(t, 0.3, 12, -0.7))[[0, 2]])


def test_specific_heat_peak_with_j(tmp_path):
    """At J = 1.5 the L = 10 maximum sits at 1.5 x 2.34 = 3.5 (it was read off J = 1 at 2.34)."""
    p1 = exact_specific_heat_peak(ising(J=1.0), 0.0, 0.25, 6.0)
    p15 = exact_specific_heat_peak(ising(J=1.5), 0.0, 0.375, 9.0)
    assert 2.3 < p1 < 2.4 and p15 == pytest.approx(1.5 * p1, rel=1e-6)
    cfg = loads("[model]\nL = 10\nJ = 1.5\n[sampling]\ntemperatures = [0.375, 9.0]\n")
    T = np.array([0.375, 9.0])
    samples = tmp_path / "samples.h5"
    with h5py.File(samples, "w") as h5:
        h5["observables/energy"] = np.zeros((2, 1, 8))
        h5.attrs["replicas"] = 4
    peak = specific_heat_peak(cfg, samples, T, 0)
    assert peak["T"] == pytest.approx(p15) and peak["source"] == "kaufman" and peak["monte_carlo"] is None


def test_energy_thermometer_reads_the_temperature_of_its_j():
    for J in (1.0, 1.5, -1.0):
        thermometer = CurveThermometer.exact_energy(ising(L=8, J=J))
        u = exact_observables(ising(L=8, J=J), [3.0])[0][0]
        assert thermometer.read(u)[0] == pytest.approx(3.0, rel=1e-3), J


def test_block_spin_readings_scale_with_j(tmp_path):
    """The J = 1.5 model at T is the J = 1 model at T / 1.5 (the Metropolis tables are equal, so
    the configurations are identical); its block-spin readings must be 1.5 times as large."""
    readings = {}
    for J, temperatures in ((1.0, (2.0, 4.0)), (1.5, (3.0, 6.0))):
        model = IsingModel(2, 8, J)
        path = tmp_path / f"J{J}.h5"
        with h5py.File(path, "w") as h5:
            configs = h5.create_dataset("configs", (2, 1, 16, 8, 8), np.int8)
            updater = make_updater("metropolis", model)
            for iT, T in enumerate(temperatures):
                spins = model.initial_state(5, iT, 16, "random")
                updater.sweep(spins, updater.prepare(T, 0.0), np.zeros(1, np.int64), 5, iT, 0, 200)
                configs[iT, 0] = spins
        cfg = loads(f"[run]\nseed = 5\n[model]\nL = 8\nJ = {J}\n[sampling]\ntemperatures = {list(temperatures)}\n")
        with h5py.File(path) as h5:
            readings[J] = rg_flow(cfg, h5, 2, n_configs=16)
    scaled = np.array([t for t, _ in readings[1.0]]) * 1.5
    got = np.array([t for t, _ in readings[1.5]])
    assert np.allclose(got, scaled, rtol=1e-6), (got, scaled)
    assert np.all(got > 1.0)  # not stuck at the low end of a J = 1 curve
