"""Log-likelihood of an RBM: exact (sum over hidden states, Nh <= 20) and AIS estimates, computed
with the array module of the parameters (exact) or of a runner's device (AIS; backend/cuda.py)."""
import numpy as np

from ..backend import array_module
from ..rng.streams import Purpose
from ..rng.uniform import stride, uniforms
from .model import RBMParams, free_energy, probs_from_logits, sample_bernoulli, sample_visible, sigmoid, softplus

MAX_EXACT_HIDDEN = 20


def _logsumexp(xp, x, axis=None):
    top = xp.max(x, axis=axis, keepdims=True)
    return xp.squeeze(top, axis=axis) + xp.log(xp.sum(xp.exp(x - top), axis=axis))


def _visible_log_sum(xp, params, logits):
    """sum_j log sum_{v_j} exp(logits . v_j) for logits (n, units): Bernoulli or categorical."""
    if not params.categorical:
        return softplus(xp, logits).sum(axis=1)
    return _logsumexp(xp, logits.reshape(len(logits), params.n_visible, params.q), axis=2).sum(axis=1)


def exact_log_partition(params, chunk=4096):
    """log Z by summing over all 2**Nh hidden states (float64)."""
    nh = params.n_hidden
    if nh > MAX_EXACT_HIDDEN:
        raise ValueError(f"exact log Z needs Nh <= {MAX_EXACT_HIDDEN}")
    xp = array_module(params.W)
    p64 = params.astype(np.float64)
    W, b, c = p64.flat_W(), p64.flat_b(), p64.c
    bits = xp.arange(nh)
    terms = []
    for start in range(0, 2**nh, chunk):
        idx = xp.arange(start, min(start + chunk, 2**nh))
        h = ((idx[:, None] >> bits) & 1).astype(np.float64)
        terms.append(h @ c + _visible_log_sum(xp, p64, h @ W + b))
    return float(_logsumexp(xp, xp.concatenate(terms)))


def mean_log_likelihood(params, data, log_z):
    """Average log p(v) over ``data`` (n, units) given log Z."""
    xp = array_module(params.W)
    p64 = params.astype(np.float64)
    return float(xp.mean(-free_energy(xp, p64, xp.asarray(data, np.float64))) - log_z)


def ais_log_partition(params, base_bias, seed, chains=100, steps=1000, point=None, runner=None):
    """Annealed importance sampling estimate of log Z and its standard error.

    Base model: visible biases ``base_bias`` (flat (units,)), W = 0, c = 0. Intermediate
    distributions interpolate linearly in beta; one Gibbs step per beta. Random numbers from
    the AIS stream (point = ``point``, default Nh; replica = chain, step = beta index), made on
    ``runner``'s device when one is given (then the chains live there too).
    """
    xp = np if runner is None else runner.xp
    p = RBMParams(*(xp.asarray(a, np.float64) for a in (params.W, params.b, params.c)), params.q)
    W, b, c = p.flat_W(), p.flat_b(), p.c
    base = xp.asarray(base_bias, np.float64).reshape(-1)
    nv, nh, q = p.n_visible, p.n_hidden, p.q
    sites = nv if p.categorical else p.units
    per_part = stride(sites, nh)
    ids = np.arange(chains)
    purpose = int(Purpose.AIS)
    point = nh if point is None else point

    def draw(step, part, n):
        return uniforms((chains, n), np.float64, seed, ids, step, point, purpose, offset=part * per_part,
                        runner=runner)

    def sample_from(logits, u):
        return sample_visible(xp, probs_from_logits(xp, logits, nv, q), u, q)

    def log_star(v_base, v_b, x, beta):  # unnormalised log p_beta(v) from v.base, v.b and x = W v + c
        return (1 - beta) * v_base + beta * v_b + softplus(xp, beta * x).sum(axis=1)

    betas = np.linspace(0.0, 1.0, steps + 1)
    v = sample_from(xp.broadcast_to(base, (chains, base.size)), draw(0, 0, sites))
    log_w = xp.zeros(chains)
    for k in range(1, steps + 1):
        v_base, v_b, x = v @ base, v @ b, v @ W.T + c  # once per step for both temperatures and h
        log_w += log_star(v_base, v_b, x, betas[k]) - log_star(v_base, v_b, x, betas[k - 1])
        h = sample_bernoulli(xp, sigmoid(xp, betas[k] * x), draw(k, 0, nh))
        v = sample_from((1 - betas[k]) * base + betas[k] * (b + h @ W), draw(k, 1, sites))
    if p.categorical:
        log_z_base = nh * np.log(2) + float(_logsumexp(xp, base.reshape(nv, q), axis=1).sum())
    else:
        log_z_base = nh * np.log(2) + float(softplus(xp, base).sum())
    log_mean_w = float(_logsumexp(xp, log_w)) - np.log(chains)
    weights = xp.exp(log_w - log_w.max())
    error = float(xp.std(weights) / np.sqrt(chains) / xp.mean(weights))  # delta method on log mean
    return float(log_z_base + log_mean_w), error
