"""The plain NumPy RBM update that a physicist would write in ten lines: the reference of the
critique-shape benchmark row (benchmarks/bench_all.py).

CD-1 in float32, Bernoulli visibles and hiddens, no biases (the critique's RBMs), one minibatch at
a time in a fixed random order: hidden probabilities by a sigmoid, hidden states by comparing
with uniforms, the reconstruction's probabilities and states, the hidden probabilities of the
reconstruction, and the gradient <v h>_data - <v h>_model as v^T h products. No tricks.
"""
import time

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def train_cd1(data, n_hidden, epochs, batch_size=100, learning_rate=0.01, seed=0):
    """W (n_hidden, n_visible) float32 after ``epochs`` of CD-1 on ``data`` (n, n_visible) 0/1."""
    rng = np.random.default_rng(seed)
    data = np.asarray(data, np.float32)
    W = (0.01 * rng.standard_normal((n_hidden, data.shape[1]))).astype(np.float32)
    for _ in range(epochs):
        order = rng.permutation(len(data))
        for start in range(0, len(data) - batch_size + 1, batch_size):
            v0 = data[order[start:start + batch_size]]
            ph0 = sigmoid(v0 @ W.T)
            h0 = (rng.random(ph0.shape, dtype=np.float32) < ph0).astype(np.float32)
            pv1 = sigmoid(h0 @ W)
            v1 = (rng.random(pv1.shape, dtype=np.float32) < pv1).astype(np.float32)
            ph1 = sigmoid(v1 @ W.T)
            W += learning_rate * (ph0.T @ v0 - ph1.T @ v1) / batch_size
    return W


def rate(data, n_hidden, epochs=3, batch_size=100):
    """Samples per second of :func:`train_cd1` (after one warm-up epoch on a slice)."""
    train_cd1(data[:10 * batch_size], n_hidden, 1, batch_size)
    t0 = time.perf_counter()
    train_cd1(data, n_hidden, epochs, batch_size)
    return epochs * (len(data) // batch_size) * batch_size / (time.perf_counter() - t0)
