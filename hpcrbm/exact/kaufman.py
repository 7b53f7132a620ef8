"""Kaufman's exact partition function of the L x L periodic Ising model (1949), H = 0.

ln Z = -ln 2 + (L^2 / 2) ln(2 sinh 2K) + ln(Z1 + Z2 + Z3 + Z4), K = J / T, with
Z1 = prod_r 2 cosh(L g_{2r+1} / 2), Z2 = prod_r 2 sinh(L g_{2r+1} / 2),
Z3 = prod_r 2 cosh(L g_{2r} / 2),   Z4 = prod_r 2 sinh(L g_{2r} / 2)  (r = 0 .. L-1),
cosh g_l = cosh 2K coth 2K - cos(pi l / L) for l > 0 and g_0 = 2K + ln tanh K
(negative below Tc, so Z4 changes sign there). Checked against enumeration at L = 4.
"""
import numpy as np

from .derivatives import first_derivative, second_derivative


def _log_2cosh(x):
    a = np.abs(x)
    return a + np.log1p(np.exp(-2 * a))


def _log_abs_2sinh(x):
    a = np.abs(x)
    return a + np.log(-np.expm1(-2 * a))


def kaufman_log_partition(beta, L, J=1.0):
    """ln Z of the L x L torus at inverse temperature(s) ``beta`` (a scalar or an array: the
    result has its shape; each element computed exactly as a scalar would be)."""
    beta = np.asarray(beta, dtype=float)
    K = beta[..., None] * J
    index = np.arange(2 * L)
    gamma = np.arccosh(np.cosh(2 * K) / np.tanh(2 * K) - np.cos(np.pi * index / L))
    gamma[..., 0] = (2 * K + np.log(np.tanh(K)))[..., 0]
    g0 = gamma[..., 0]
    odd, even = gamma[..., 1::2] * L / 2, gamma[..., 0::2] * L / 2
    with np.errstate(divide="ignore"):  # Z4 = 0 where g_0 = 0 (exactly at Tc of the torus formula)
        z4 = np.where(g0 != 0, np.sum(_log_abs_2sinh(even), axis=-1), -np.inf)
    logs = [np.sum(_log_2cosh(odd), axis=-1), np.sum(_log_abs_2sinh(odd), axis=-1),
            np.sum(_log_2cosh(even), axis=-1), z4]
    signs = [1.0, 1.0, 1.0, np.sign(g0)]  # only the l = 0 factor of Z4 can be negative
    top = np.maximum(np.maximum(logs[0], logs[1]), np.maximum(logs[2], logs[3]))
    total = sum(s * np.exp(v - top) for s, v in zip(signs, logs))
    out = -np.log(2) + 0.5 * L * L * np.log(2 * np.sinh(2 * K[..., 0])) + top + np.log(total)
    return out if out.ndim else float(out)


GROUND_STATE_K = 30.0  # above this |K| the torus is in its ground state to float64 precision


def kaufman_observables(T, L, J=1.0):
    """Exact (u, c) per site of the L x L torus at temperature(s) T, H = 0 (five-point
    derivatives of ln Z in beta, all temperatures at once)."""
    T = np.atleast_1d(np.asarray(T, dtype=float))
    n = L * L
    beta = 1.0 / T
    ground = beta * abs(J) > GROUND_STATE_K  # corrections of order exp(-8K) vanish in float64
    b = beta[~ground]
    f = lambda x: kaufman_log_partition(x, L, J)  # noqa: E731
    h = 1e-3 * b
    u = np.full_like(T, -2 * abs(J))
    c = np.zeros_like(T)
    u[~ground] = -first_derivative(f, b, h) / n
    c[~ground] = b**2 * second_derivative(f, b, h) / n
    return u, c
