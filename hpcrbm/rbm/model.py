"""RBM energy, conditionals and free energy, written once for any array module ``xp``.

E(v, h) = -b.v - c.h - h W v, Bernoulli hiddens h in {0, 1}^Nh.
- Bernoulli visibles: v in {0, 1}^Nv, W (Nh, Nv), b (Nv,).
- Categorical visibles: one-hot v (Nv, q), W (Nh, Nv, q), b (Nv, q), kept in the zero-sum gauge
  (sum over q of W[a, j, :] and b[j, :] is 0), which leaves the distribution unchanged.
Arrays of visible states are always flat (batch, Nv * q) inside the trainer; ``units`` = Nv * q.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class RBMParams:
    W: object  # (Nh, Nv) or (Nh, Nv, q)
    b: object  # (Nv,) or (Nv, q)
    c: object  # (Nh,)
    q: int = 0  # 0 for Bernoulli visibles, else the number of categories

    @property
    def categorical(self):
        return self.q > 0

    @property
    def n_hidden(self):
        return self.W.shape[0]

    @property
    def n_visible(self):
        return self.W.shape[1]

    @property
    def units(self):
        return self.n_visible * max(self.q, 1)

    def astype(self, dtype):
        """The same parameters as ``dtype`` arrays of the same array module (no copy where they
        already are)."""
        return RBMParams(*(a.astype(dtype, copy=False) if hasattr(a, "astype") else np.asarray(a, dtype)
                           for a in (self.W, self.b, self.c)), self.q)

    def flat_W(self):
        return self.W.reshape(self.n_hidden, -1)

    def flat_b(self):
        return self.b.reshape(-1)


def sigmoid(xp, x):
    return 0.5 * (1.0 + xp.tanh(0.5 * x))


def softplus(xp, x):
    return xp.logaddexp(0, x)


def hidden_input(xp, params, v):
    """c + W v for a batch of flat visible states (batch, units) -> (batch, Nh)."""
    return v @ params.flat_W().T + params.c


def hidden_probs(xp, params, v):
    return sigmoid(xp, hidden_input(xp, params, v))


def visible_probs(xp, params, h):
    """p(v | h): Bernoulli probabilities (batch, Nv) or softmax per site, flat (batch, Nv * q)."""
    return probs_from_logits(xp, h @ params.flat_W() + params.flat_b(), params.n_visible, params.q)


def probs_from_logits(xp, logits, n_visible, q):
    """Visible probabilities from logits (batch, units): sigmoid (q = 0) or softmax per site."""
    if not q:
        return sigmoid(xp, logits)
    logits = logits.reshape(logits.shape[0], n_visible, q)
    logits = logits - logits.max(axis=2, keepdims=True)
    e = xp.exp(logits)
    return (e / e.sum(axis=2, keepdims=True)).reshape(logits.shape[0], -1)


def free_energy(xp, params, v):
    """F(v) = -b.v - sum_a softplus(c_a + W_a v), (batch,); p(v) = exp(-F(v)) / Z."""
    return -(v @ params.flat_b()) - softplus(xp, hidden_input(xp, params, v)).sum(axis=1)


def sample_bernoulli(xp, probs, uniforms):
    return (uniforms < probs).astype(probs.dtype)


def sample_visible(xp, probs, uniforms, q):
    """Visible states from their probabilities: one-hot categorical (q > 0, one uniform per
    site) or Bernoulli (q = 0, one uniform per unit)."""
    return sample_categorical(xp, probs, uniforms, q) if q else sample_bernoulli(xp, probs, uniforms)


def sample_categorical(xp, probs, uniforms, q):
    """One-hot samples from per-site probabilities (batch, Nv * q), one uniform per site (batch, Nv)."""
    batch = probs.shape[0]
    cumulative = xp.cumsum(probs.reshape(batch, -1, q), axis=2)
    state = (cumulative < uniforms[:, :, None]).sum(axis=2)
    state = xp.minimum(state, q - 1)
    return one_hot(xp, state, q, probs.dtype).reshape(batch, -1)


def one_hot(xp, states, q, dtype):
    """int states (..., Nv) -> one-hot (..., Nv, q)."""
    return (states[..., None] == xp.arange(q)).astype(dtype)


def apply_gauge(xp, params):
    """Zero-sum gauge for categorical visibles, compensated in c so p(v) is unchanged."""
    if not params.categorical:
        return
    mean_W = params.W.mean(axis=2, keepdims=True)
    params.W -= mean_W
    params.c += mean_W[:, :, 0].sum(axis=1)
    params.b -= params.b.mean(axis=1, keepdims=True)


def encode(states, kind, q, dtype=np.float32):
    """MC configurations -> flat visible units. states (n, *lattice) int8.

    Bernoulli (Ising): v = (1 + s) / 2, (n, Nv). Categorical: one-hot of the state (Ising
    s -> (1 + s) / 2), (n, Nv * q).
    """
    flat = np.asarray(states).reshape(len(states), -1)
    if kind == "bernoulli":
        return ((1 + flat) // 2).astype(dtype)
    values = (1 + flat) // 2 if q == 2 and flat.min() < 0 else flat
    return one_hot(np, values.astype(np.int64), q, dtype).reshape(len(states), -1)
