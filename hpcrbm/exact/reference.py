"""Which exact result applies to a configured model: the one place that decides it.

Every caller (validation, thermometers, specific-heat maximum, block-spin RG, figures, Tc)
asks here, so the coupling J and the field H are taken into account everywhere alike.

Exact mappings used (k_B = 1, per-site quantities, periodic L x L torus, L even):
- 2D Ising, H = 0, any J != 0: u(T; J) = |J| u(T/|J|; 1), c(T; J) = c(T/|J|; 1) (Kaufman);
  J < 0 maps onto |J| by flipping one sublattice (the square lattice is bipartite).
- 2D Potts q = 2, H = 0: an Ising model of coupling J/2 plus -J per site:
  u = -J + (|J|/2) u_I(2T/|J|), c = c_I(2T/|J|).
- 2D clock q = 4, H = 0: two independent Ising models of coupling J/2:
  u = |J| u_I(2T/|J|), c = 2 c_I(2T/|J|).
- 2D Ising in a field H != 0, any J, L <= 10: the row-to-row transfer matrix (torus_field.py).
- 1D Ising ring, any J and H: the 2 x 2 transfer matrix.
"""
import math

import numpy as np
from scipy.optimize import minimize_scalar

from .ising1d import ring_observables
from .kaufman import kaufman_observables
from .onsager import ising2d_critical_temperature, onsager_magnetization
from .torus_field import MAX_L, torus_observables


def critical_temperature(model, field=0.0):
    """Infinite-lattice Tc of ``model`` (a ModelConfig) at ``field``, or NaN where there is no
    transition (1D, H != 0) or none is known here.

    2D Ising: 2|J| / ln(1 + sqrt 2) (J < 0: the Neel temperature); ferromagnetic Potts:
    J / ln(1 + sqrt q); clock q = 4: |J| / ln(1 + sqrt 2); ferromagnetic clock q = 3 (the
    3-state Potts model with coupling 3J/2): 1.5 J / ln(1 + sqrt 3).
    """
    J, q, kind = model.J, model.q, model.kind
    if model.dim != 2 or field != 0 or J == 0:
        return float("nan")
    if kind == "ising":
        return float(ising2d_critical_temperature(abs(J)))
    if kind == "potts" and J > 0:
        return J / math.log(1 + math.sqrt(q))
    if kind == "clock" and q == 4:
        return abs(J) / math.log(1 + math.sqrt(2))
    if kind == "clock" and q == 3 and J > 0:
        return 1.5 * J / math.log(1 + math.sqrt(3))
    return float("nan")


def exact_observables(model, temperatures, field=0.0):
    """Exact (u, c) per site, arrays like ``temperatures``, of ``model`` at ``field``; None
    where no exact result applies (see the module docstring for the mappings)."""
    T = np.atleast_1d(np.asarray(temperatures, dtype=float))
    kind, q, L, J = model.kind, model.q, model.L, model.J
    if model.dim == 1:
        if kind != "ising":
            return None
        rows = np.array([ring_observables(float(t), field, L, J) for t in T], dtype=float)
        return rows[:, 0], rows[:, 2]
    if field != 0 and kind == "ising" and L <= MAX_L:
        rows = np.array([torus_observables(float(t), field, L, J) for t in T], dtype=float)
        return rows[:, 0], rows[:, 2]
    if field != 0 or J == 0:
        return None
    a = abs(J)
    if kind == "ising":
        u, c = kaufman_observables(T / a, L)
        return a * u, c
    if (kind, q) == ("potts", 2):
        u, c = kaufman_observables(2 * T / a, L)
        return -J + 0.5 * a * u, c
    if (kind, q) == ("clock", 4):
        u, c = kaufman_observables(2 * T / a, L)
        return a * u, 2 * c
    return None


def exact_method(model, field=0.0):
    """The name of the exact result :func:`exact_observables` uses here ("kaufman" or
    "transfer matrix"), or None where none applies."""
    if model.dim == 1:
        return "transfer matrix" if model.kind == "ising" else None
    if field != 0:
        return "transfer matrix" if model.kind == "ising" and model.L <= MAX_L and model.J != 0 else None
    return "kaufman" if exact_observables(model, [1.0], field) is not None else None


def exact_specific_heat_peak(model, field, t_min, t_max, n=2000):
    """Temperature of the exact finite-L specific-heat maximum on [max(t_min, 0.5 |J|), t_max],
    or None where no exact result applies. Cheap references (Kaufman, rings): the maximum of a
    grid of ``n`` points. The 2D transfer matrix in a field (seconds per point): a grid of 40
    points, then a bounded scalar search (scipy) between the maximum's neighbours to 1e-5 |J|."""
    lo = max(t_min, 0.5 * abs(model.J))
    method = exact_method(model, field)
    if method is None:
        return None

    def heat(T):
        return exact_observables(model, T, field)[1]
    if not (model.dim == 2 and field != 0):
        grid = np.linspace(lo, t_max, n)
        return float(grid[np.argmax(heat(grid))])
    grid = np.linspace(lo, t_max, 40)
    i = int(np.argmax(heat(grid)))
    bracket = (grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)])
    best = minimize_scalar(lambda T: -heat(T)[0], bounds=bracket, method="bounded",
                           options={"xatol": 1e-5 * abs(model.J)})
    return float(best.x)


def exact_magnetization(model, temperatures):
    """Spontaneous |m| of the infinite 2D Ising model (Yang), scaled to |J|; None otherwise."""
    if model.kind != "ising" or model.dim != 2 or model.J == 0:
        return None
    return onsager_magnetization(np.asarray(temperatures, float), abs(model.J))
