"""Physics thermometers: read a temperature off an ensemble's energy or |m| by inverting the
equilibrium curve of the same lattice size (from the Monte Carlo summary, or Kaufman's exact
energy of the L x L torus where it applies)."""
from dataclasses import dataclass

import numpy as np

from ..exact import kaufman_observables


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
    def kaufman_energy(cls, L, t_min=0.3, t_max=12.0, n=600):
        """Exact u(T) of the L x L Ising torus at H = 0."""
        T = np.geomspace(t_min, t_max, n)
        return cls.from_curve(T, kaufman_observables(T, L)[0], increasing=True)

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
