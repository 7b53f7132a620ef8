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
- 1D Ising ring, any J and H: the 2 x 2 transfer matrix.
"""
import math

import numpy as np

from .ising1d import ring_observables
from .kaufman import kaufman_observables
from .onsager import ising2d_critical_temperature, onsager_magnetization


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
    if exact_observables(model, [1.0], field) is None:
        return None
    return "transfer matrix" if model.dim == 1 else "kaufman"


def exact_specific_heat_peak(model, field, t_min, t_max, n=2000):
    """Temperature of the exact finite-L specific-heat maximum on [max(t_min, 0.5 |J|), t_max]
    (a grid of ``n`` points), or None where no exact result applies."""
    grid = np.linspace(max(t_min, 0.5 * abs(model.J)), t_max, n)
    exact = exact_observables(model, grid, field)
    if exact is None:
        return None
    return float(grid[np.argmax(exact[1])])


def exact_magnetization(model, temperatures):
    """Spontaneous |m| of the infinite 2D Ising model (Yang), scaled to |J|; None otherwise."""
    if model.kind != "ising" or model.dim != 2 or model.J == 0:
        return None
    return onsager_magnetization(np.asarray(temperatures, float), abs(model.J))
