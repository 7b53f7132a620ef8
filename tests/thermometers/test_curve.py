"""Physics thermometers: exact and Monte Carlo curves read backwards."""
import pytest

from hpcrbm.config import ModelConfig
from hpcrbm.exact import kaufman_observables
from hpcrbm.thermometers.curve import CurveThermometer


@pytest.mark.parametrize("T", [1.0, 2.0, 2.269, 3.0, 6.0])
def test_exact_energy_thermometer_reads_back_the_temperature(T):
    thermometer = CurveThermometer.exact_energy(ModelConfig(L=10))
    u = kaufman_observables(T, 10)[0][0]
    t, dt, inside = thermometer.read(u, 0.001)
    assert inside and t == pytest.approx(T, rel=2e-3) and dt > 0


def test_thermometer_flags_values_outside_its_range():
    thermometer = CurveThermometer.from_curve([1.0, 2.0, 3.0], [0.9, 0.5, 0.1], increasing=False)
    assert thermometer.read(0.7)[0] == pytest.approx(1.5)
    t, _, inside = thermometer.read(0.95)
    assert t == 1.0 and not inside
