"""A scikit-learn-like RBM for single-process use (no MPI, no files).

    >>> rbm = RBM(n_hidden=16, epochs=5, seed=1).fit(X)      # X: (n, Nv) in {0, 1}
    >>> H = rbm.transform(X)                                   # p(h = 1 | v), (n, Nh)
    >>> V = rbm.gibbs(X)                                       # one sampled step v -> h -> v
    >>> rbm.score_samples(X)                                   # log p(v) per sample

Categorical visibles take integer states (n, Nv) in 0..q-1. Training is the same code as
``hpcrbm train`` (the Trainer on a one-process communicator), so results agree with it.
"""
import numpy as np

from ..parallel import Communicator
from ..rng.streams import Purpose
from ..rng.uniform import stride, uniforms
from .likelihood import MAX_EXACT_HIDDEN, ais_log_partition, exact_log_partition
from .model import free_energy, hidden_probs, one_hot, sample_bernoulli, sample_visible, visible_probs
from .training import Trainer, TrainingSettings


class RBM:
    def __init__(self, n_hidden=64, visible="bernoulli", q=2, method="pcd", k=1, learning_rate=0.01,
                 batch_size=100, epochs=10, momentum=0.0, weight_decay=0.0, dtype="float32", seed=0):
        if visible not in ("bernoulli", "categorical"):
            raise ValueError("visible must be 'bernoulli' or 'categorical'")
        self.n_hidden, self.visible, self.q = n_hidden, visible, q
        self.settings = TrainingSettings(n_hidden=n_hidden, q=q if visible == "categorical" else 0, method=method,
                                         k=k, learning_rate=learning_rate, batch_size=batch_size, momentum=momentum,
                                         weight_decay=weight_decay, dtype=dtype, seed=seed)
        self.epochs = epochs
        self.state = None
        self._gibbs_calls = 0

    def _encode(self, X):
        X = np.asarray(X)
        if self.visible == "categorical":
            return one_hot(np, X.astype(np.int64), self.q, np.dtype(self.settings.dtype)).reshape(len(X), -1)
        return X.astype(self.settings.dtype)

    def _trainer(self, X):
        """A one-process Trainer on X, encoded once."""
        V = self._encode(X)
        return Trainer(self.settings, V, 0, len(V), Communicator(None), np.asarray(X).shape[1])

    def fit(self, X):
        """Train from scratch for ``epochs`` epochs."""
        self.state = None
        trainer = self._trainer(X)
        self.state = trainer.initial_state()
        for _ in range(self.epochs):
            trainer.epoch(self.state)
        return self

    def partial_fit(self, X):
        """One epoch over X (continuing from the current weights)."""
        trainer = self._trainer(X)
        if self.state is None:
            self.state = trainer.initial_state()
        trainer.epoch(self.state)
        return self

    @property
    def params(self):
        return self.state.params

    @property
    def components_(self):
        return self.params.W

    def transform(self, X):
        return hidden_probs(np, self.params, self._encode(X))

    def gibbs(self, X):
        """One Gibbs step v -> h -> v with sampled states (successive calls use new random numbers)."""
        V = self._encode(X)
        ids = np.arange(len(V))
        self._gibbs_calls += 1
        purpose, nh = int(Purpose.RBM_API_GIBBS), self.n_hidden
        u = uniforms((len(V), nh), V.dtype, self.settings.seed, ids, self._gibbs_calls, nh, purpose)
        h = sample_bernoulli(np, hidden_probs(np, self.params, V), u)
        probs = visible_probs(np, self.params, h)
        sites = np.asarray(X).shape[1]
        u = uniforms((len(V), sites), V.dtype, self.settings.seed, ids, self._gibbs_calls, nh, purpose,
                     offset=stride(sites, nh))
        v = sample_visible(np, probs, u, self.settings.q)
        return v.reshape(len(V), sites, self.q).argmax(axis=2) if self.visible == "categorical" else v

    def log_partition(self):
        """log Z: exact for Nh <= 20, else an AIS estimate from uniform base rates."""
        if self.n_hidden <= MAX_EXACT_HIDDEN:
            return exact_log_partition(self.params)
        base = np.zeros(self.params.units)
        return ais_log_partition(self.params, base, self.settings.seed)[0]

    def score_samples(self, X):
        """log p(v) of each sample (float64)."""
        V = self._encode(X).astype(np.float64)
        return -free_energy(np, self.params.astype(np.float64), V) - self.log_partition()
