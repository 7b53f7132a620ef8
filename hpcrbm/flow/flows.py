"""RBM flows v0 -> h1 -> v1 -> ... in mean-field or sampled mode, and the spins they carry.

Mean-field (as written in the talk): h = sigmoid(W v + c), v = p(v | h) (sigmoid, or softmax per
site for categorical visibles), probabilities all the way. Sampled (Iso et al., Veiga et al.):
h and v are drawn at every half step. Either way, each step's ensemble is measured on spins drawn
from the visible probabilities ("sampled spins") and, for mean-field flows, also directly on the
probabilities ("probabilities").

Random words: purpose FLOW, point = the RBM's stream point (Nh + 2**16 * training seed),
replica = chain id (unique per start and sample),
step = flow step, index = half-step * stride + unit (docs/rng.md).

With a ``runner`` (backend/cuda.py) the chains and their random numbers live on its device.
"""
import numpy as np

from ..backend import array_module
from ..rbm.model import RBMParams, hidden_probs, sample_bernoulli, sample_visible, visible_probs
from ..rng.streams import Purpose
from ..rng.uniform import stride, uniforms


def flow(params, v0, steps, mode, seed, chain_ids, point=None, runner=None):
    """Yield (step, visible probabilities or None, visible sample) for step = 0 .. steps, arrays
    of ``runner.xp`` (NumPy without a runner).

    v0: flat visible states (n, units), float64. Step 0 is the start itself. ``point``: the
    stream's work item (default Nh).
    """
    xp = np if runner is None else runner.xp
    params = RBMParams(*(xp.asarray(a) for a in (params.W, params.b, params.c)), params.q)
    v = xp.asarray(v0, dtype=np.float64)
    sites = params.n_visible if params.categorical else params.units
    per_part = stride(params.units, params.n_hidden)
    purpose = int(Purpose.FLOW)
    point = params.n_hidden if point is None else point
    draw = lambda step, part, width: uniforms((len(v), width), np.float64, seed, chain_ids, step,  # noqa: E731
                                              point, purpose, offset=part * per_part, runner=runner)
    yield 0, None, v
    for step in range(1, steps + 1):
        ph = hidden_probs(xp, params, v)
        if mode == "sample":
            h = sample_bernoulli(xp, ph, draw(step, 0, params.n_hidden))
            v = sample_visible(xp, visible_probs(xp, params, h), draw(step, 1, sites), params.q)
            yield step, None, v
        else:
            v = visible_probs(xp, params, ph)
            yield step, v, sample_visible(xp, v, draw(step, 2, sites), params.q)


def spins_from_visible(v, params, lattice_shape, ising):
    """Flat visible states (n, units) -> spins (n, *lattice): Ising +-1, else states 0..q-1, in
    the array module of ``v``."""
    xp = array_module(v)
    n = len(v)
    if not params.categorical:
        return (2 * xp.rint(v) - 1).astype(np.int8).reshape((n,) + lattice_shape)
    states = v.reshape(n, params.n_visible, params.q).argmax(axis=2)
    if ising:
        states = 2 * states - 1
    return states.astype(np.int8).reshape((n,) + lattice_shape)


def probability_observables(probs, q, model, lattice_shape, field):
    """Mean-field observables of visible probabilities, per sample: (energy per site, |m|), in
    the array module of ``probs``.

    Ising (Bernoulli): spins as <s> = 2p - 1, energy (-J sum <s_i><s_j> - h sum <s_i>) / N,
    m = mean <s>. Categorical: expected bond energy sum_ab p_ia p_jb e(a - b) plus the expected
    field energy, order parameter from the mean state probabilities.
    """
    xp = array_module(probs)
    n = len(probs)
    if q and not hasattr(model, "bond_energy"):  # Ising spins with categorical visibles: p(s = +1)
        probs, q = probs.reshape(n, -1, q)[..., 1], 0
    if not q:
        s = (2 * probs - 1).reshape((n,) + lattice_shape)
        bonds = sum((s * xp.roll(s, -1, axis=a)).reshape(n, -1).sum(1) for a in range(1, s.ndim))
        mean_s = s.reshape(n, -1).mean(1)
        return -model.J * bonds / s[0].size - field * mean_s, xp.abs(mean_s)
    p = probs.reshape((n,) + lattice_shape + (q,))
    e = model.bond_energy()
    table = xp.asarray(e[(np.arange(q)[:, None] - np.arange(q)[None, :]) % q])
    bond = sum(xp.einsum("...a,ab,...b->...", p, table, xp.roll(p, -1, axis=a)).reshape(n, -1).sum(1)
               for a in range(1, p.ndim - 1))
    frac = p.reshape(n, -1, q).mean(1)
    bond = bond + p[0, ..., 0].size * (frac @ xp.asarray(model.site_energy(field)))
    if model.kind == "potts":
        m = (q * frac.max(1) - 1) / (q - 1)
    else:
        angle = 2 * np.pi * np.arange(q) / q
        m = xp.hypot(frac @ xp.asarray(np.cos(angle)), frac @ xp.asarray(np.sin(angle)))
    return bond / p[0, ..., 0].size, m
