"""The papers' neural thermometer: an MLP classifier (one ReLU hidden layer, softmax over the
training temperatures) trained on labelled Monte Carlo configurations of one field, with a
held-out split for its calibration curve.

Data-parallel like the RBM trainer: sample g = iT * S + j of the field is owned by the rank
owning grid point (iT, iH); the epoch order is argsort of Philox words (purpose THERMOMETER_ORDER,
point = field index, step = epoch; initial weights from purpose THERMOMETER_INIT) over the
training samples, batches are global, gradients are
summed with one allreduce, and Adam updates identically everywhere.
"""
from dataclasses import dataclass

import numpy as np

from ..rng.streams import Purpose, counter_words
from ..rng.uniform import normals, uniforms

_ORDER = int(Purpose.THERMOMETER_ORDER)  # epoch permutations: replica 0, step = epoch
_INIT = int(Purpose.THERMOMETER_INIT)  # initial weights: replica = row, step 0 (W1) or 1 (W2)


@dataclass
class MLP:
    W1: np.ndarray  # (hidden, inputs)
    b1: np.ndarray
    W2: np.ndarray  # (classes, hidden)
    b2: np.ndarray

    def forward(self, X):
        """(hidden pre-activations, class probabilities) for inputs X (n, inputs)."""
        z1 = X @ self.W1.T + self.b1
        z2 = np.maximum(z1, 0) @ self.W2.T + self.b2
        z2 = z2 - z2.max(axis=1, keepdims=True)
        p = np.exp(z2)
        return z1, p / p.sum(axis=1, keepdims=True)

    def predict_proba(self, X):
        return self.forward(X)[1]

    def arrays(self):
        return [self.W1, self.b1, self.W2, self.b2]


def init_mlp(inputs, hidden, classes, seed, field_index):
    """He-initialised weights from the Philox stream (Box-Muller), zero biases."""
    def normal(rows, cols, step):
        u = uniforms((rows, 2 * cols), np.float64, seed, np.arange(rows), step, field_index, _INIT)
        return normals(u)
    return MLP(normal(hidden, inputs, 0) * np.sqrt(2 / inputs), np.zeros(hidden),
               normal(classes, hidden, 1) * np.sqrt(2 / hidden), np.zeros(classes))


def train_classifier(X_local, labels_local, rows_local, n_train, classes, cfg_t, seed, field_index, comm):
    """Train on the distributed training set; returns the MLP (identical on every rank).

    X_local (n_local, inputs) and labels_local: this rank's training samples, whose global
    training indices are ``rows_local`` (sorted); n_train: global training-set size.
    """
    mlp = init_mlp(X_local.shape[1], cfg_t.hidden, classes, seed, field_index)
    moments = [[np.zeros_like(a), np.zeros_like(a)] for a in mlp.arrays()]
    beta1, beta2, eps, t = 0.9, 0.999, 1e-8, 0
    position = {int(g): i for i, g in enumerate(rows_local)}
    B = cfg_t.batch_size
    for epoch in range(cfg_t.epochs):
        order = np.argsort(counter_words(seed, field_index, 0, epoch, np.arange(n_train), _ORDER), kind="stable")
        for start in range(0, n_train - B + 1, B):
            mine = [position[g] for g in order[start:start + B] if g in position]
            X, y = X_local[mine], labels_local[mine]
            z1, p = mlp.forward(X)
            dz2 = p.copy()
            dz2[np.arange(len(y)), y] -= 1
            dz2 /= B
            a1 = np.maximum(z1, 0)
            dz1 = (dz2 @ mlp.W2) * (z1 > 0)
            grads = [dz1.T @ X, dz1.sum(0), dz2.T @ a1, dz2.sum(0)]
            flat = comm.allreduce_sum(np.concatenate([g.reshape(-1) for g in grads]))
            t += 1
            offset = 0
            for a, (m, v) in zip(mlp.arrays(), moments):
                g = flat[offset:offset + a.size].reshape(a.shape)
                offset += a.size
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                a -= cfg_t.learning_rate * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return mlp


def calibration(mlp, X, labels, temperatures, comm):
    """Per true temperature over the distributed held-out set: mean and standard deviation
    of the predicted T (argmax class); and the overall accuracy."""
    T = np.asarray(temperatures, float)
    nT = len(T)
    predicted = T[mlp.predict_proba(X).argmax(axis=1)] if len(X) else np.empty(0)
    sums = np.zeros((4, nT))
    np.add.at(sums[0], labels, 1)
    np.add.at(sums[1], labels, predicted)
    np.add.at(sums[2], labels, predicted**2)
    np.add.at(sums[3], labels, predicted == T[labels])
    count, s1, s2, correct = comm.allreduce_sum(sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / count
        std = np.sqrt(np.maximum(s2 / count - mean**2, 0))
    return mean, std, float(correct.sum() / count.sum())


def read_temperature(mlp, X, temperatures):
    """(mean predicted T, its standard error, histogram over the training temperatures)."""
    k = mlp.predict_proba(X).argmax(axis=1)
    T = np.asarray(temperatures)[k]
    return float(T.mean()), float(T.std() / np.sqrt(len(T))), np.bincount(k, minlength=len(temperatures))
