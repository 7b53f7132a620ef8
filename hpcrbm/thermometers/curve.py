"""Physics thermometers: read a temperature off an ensemble's energy or |m| by inverting the
equilibrium curve of the same lattice size (the exact energy where one applies, see
exact/reference.py, else the Monte Carlo curve of samples.h5)."""
from dataclasses import dataclass

import numpy as np

from ..exact.reference import exact_observables


@dataclass(frozen=True)
class CurveThermometer:
    """T(y) from an equilibrium curve y(T) that is monotone in T (increasing: energy;
    decreasing: |m|). Non-monotone noise is removed by a running max (min) from low T."""

    temperatures: np.ndarray  # (n,) increasing
    values: np.ndarray  # (n,)
    increasing: bool = True

    @classmethod
    def from_curve(cls, temperatures, values, increasing=True):
        order = np.argsort(temperatures)
        T, y = np.asarray(temperatures, float)[order], np.asarray(values, float)[order]
        y = np.maximum.accumulate(y) if increasing else np.minimum.accumulate(y)
        return cls(T, y, increasing)

    @classmethod
    def exact_energy(cls, model, field=0.0, t_min=0.3, t_max=12.0, n=600):
        """The exact u(T) of ``model`` (a ModelConfig, same L and J) at ``field`` on a geometric
        grid of [t_min |J|, t_max |J|]; None where no exact result applies (exact/reference.py)
        or where it is too costly for a 600-point curve (the 2D transfer matrix in a field:
        seconds per temperature; the Monte Carlo curve serves there)."""
        if model.dim == 2 and field != 0:
            return None
        a = abs(model.J)
        T = np.geomspace(t_min * a, t_max * a, n)
        exact = exact_observables(model, T, field)
        return None if exact is None else cls.from_curve(T, exact[0], increasing=True)

    def read(self, y, y_err=0.0):
        """(T, T_err, inside): T where the curve equals y; the error from the local slope;
        ``inside`` False when y lies beyond the curve's range (T clipped to its end)."""
        T, v = self.temperatures, self.values
        xs, ts = (v, T) if self.increasing else (v[::-1], T[::-1])
        keep = np.concatenate([[True], np.diff(xs) > 0])  # strictly increasing abscissae for interp
        xs, ts = xs[keep], ts[keep]
        y = np.asarray(y, float)
        t = np.interp(y, xs, ts)
        inside = (y >= xs[0]) & (y <= xs[-1])
        dy = 1e-3 * max(np.ptp(xs), 1e-12)
        slope = (np.interp(y + dy, xs, ts) - np.interp(y - dy, xs, ts)) / (2 * dy)
        return t, np.abs(slope) * np.asarray(y_err, float), inside


def physics_thermometers(model, field, temperatures, energy, abs_magnetization):
    """(energy thermometer, |m| thermometer) of one field: the exact u(T) where it applies,
    else the Monte Carlo u(T); |m| always from the Monte Carlo curve (nT,) of that field."""
    energy_thermometer = (CurveThermometer.exact_energy(model, field)
                          or CurveThermometer.from_curve(temperatures, energy))
    return energy_thermometer, CurveThermometer.from_curve(temperatures, abs_magnetization, increasing=False)
