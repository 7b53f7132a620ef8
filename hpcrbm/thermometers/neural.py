"""The papers' neural thermometer: an MLP classifier (one ReLU hidden layer, softmax over the
training temperatures) trained on labelled Monte Carlo configurations of one field, with a
held-out split for its calibration curve.

Data-parallel like the RBM trainer: sample g = iT * S + j of the field is owned by the rank
owning grid point (iT, iH); the epoch order is argsort of Philox words (purpose THERMOMETER_ORDER,
point = field index, step = epoch; initial weights from purpose THERMOMETER_INIT) over the
training samples and batches are global. One allreduce per batch assembles the batch's rows on
every rank (each row comes from one rank, the others add zeros: exact), and every rank computes
the same full-batch gradient and Adam update, so the weights do not depend on the rank count,
bit for bit. Held-out predictions are made in blocks of a fixed shape and counted as integers.
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
    width = X_local.shape[1]
    for epoch in range(cfg_t.epochs):
        order = np.argsort(counter_words(seed, field_index, 0, epoch, np.arange(n_train), _ORDER), kind="stable")
        for start in range(0, n_train - B + 1, B):
            batch = order[start:start + B]
            local = np.zeros((B, width + 1))  # the rows this rank owns, and their labels, at their batch places
            for j, g in enumerate(batch):
                i = position.get(int(g))
                if i is not None:
                    local[j, :width], local[j, width] = X_local[i], labels_local[i]
            rows = comm.allreduce_sum(local)
            X, y = rows[:, :width], rows[:, width].astype(np.int64)
            z1, p = mlp.forward(X)
            dz2 = p.copy()
            dz2[np.arange(len(y)), y] -= 1
            dz2 /= B
            a1 = np.maximum(z1, 0)
            dz1 = (dz2 @ mlp.W2) * (z1 > 0)
            grads = [dz1.T @ X, dz1.sum(0), dz2.T @ a1, dz2.sum(0)]
            t += 1
            for a, (m, v), g in zip(mlp.arrays(), moments, grads):
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                a -= cfg_t.learning_rate * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return mlp


PREDICT_BLOCK = 64  # rows per forward pass when predicting: a fixed shape, the same results on any split


def predict_classes(mlp, X):
    """Argmax class of each row of X, computed in zero-padded blocks of PREDICT_BLOCK rows."""
    n = len(X)
    out = np.empty(n, np.int64)
    for start in range(0, n, PREDICT_BLOCK):
        block = np.zeros((PREDICT_BLOCK, X.shape[1]))
        part = X[start:start + PREDICT_BLOCK]
        block[:len(part)] = part
        out[start:start + len(part)] = mlp.predict_proba(block)[:len(part)].argmax(axis=1)
    return out


def calibration(mlp, X, labels, temperatures, comm):
    """Per true temperature over the distributed held-out set: mean and standard deviation
    of the predicted T (argmax class); and the overall accuracy. From integer counts of
    (true, predicted) class pairs, the same on any number of ranks."""
    T = np.asarray(temperatures, float)
    nT = len(T)
    counts = np.zeros((nT, nT), np.int64)
    if len(X):
        np.add.at(counts, (labels, predict_classes(mlp, X)), 1)
    counts = comm.allreduce_sum(counts)
    total = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = counts @ T / total
        std = np.sqrt(np.maximum(counts @ T**2 / total - mean**2, 0))
    return mean, std, float(np.trace(counts) / counts.sum())


def read_temperature(mlp, X, temperatures):
    """(mean predicted T, its standard error, histogram over the training temperatures)."""
    k = predict_classes(mlp, X)
    T = np.asarray(temperatures)[k]
    return float(T.mean()), float(T.std() / np.sqrt(len(T))), np.bincount(k, minlength=len(temperatures))
