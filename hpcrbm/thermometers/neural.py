"""The papers' neural thermometer: an MLP classifier (ReLU hidden layers of thermometer.hidden
units, softmax over the training temperatures; the critique's is 512-256-64) trained on
labelled Monte Carlo configurations of one field, with a
held-out split for its calibration curve.

One MLP is trained by one rank on its field's whole training set (the thermometer stage gives
each rank whole fields), so its weights do not depend on the rank count, bit for bit: training
sample g = iT * n_train + j is the j-th training configuration of temperature iT; the epoch
order is argsort of Philox words (purpose THERMOMETER_ORDER, point = field index, step = epoch;
initial weights from purpose THERMOMETER_INIT). Held-out predictions are made in blocks of a
fixed shape and counted as integers.

On a GPU (``xp`` = CuPy) the training set, the weights, moments and batches live on the device;
checkpoints get host copies.
"""
import numpy as np

from ..backend import array_module, to_host, to_module
from ..rng.streams import Purpose
from ..rng.uniform import normals, stream_order, uniforms

_ORDER = int(Purpose.THERMOMETER_ORDER)  # epoch permutations: replica 0, step = epoch
_INIT = int(Purpose.THERMOMETER_INIT)  # initial weights: replica = row, step = layer


class MLP:
    """ReLU layers and a softmax output: ``weights`` [(units_out, units_in)], ``biases`` [(units_out,)],
    input first, classes last."""

    def __init__(self, weights, biases):
        self.weights, self.biases = list(weights), list(biases)

    @classmethod
    def from_arrays(cls, arrays):
        """From [W1, b1, W2, b2, ...] (the file order, :meth:`arrays`)."""
        return cls(arrays[0::2], arrays[1::2])

    def on(self, xp):
        """This MLP with its arrays in the array module ``xp`` (NumPy or CuPy)."""
        return MLP([to_module(W, xp) for W in self.weights], [to_module(b, xp) for b in self.biases])

    def forward(self, X):
        """(pre-activations of every hidden layer, class probabilities) for inputs X (n, inputs),
        in X's array module (the weights' one)."""
        xp = array_module(X)
        hidden, a = [], X
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            z = a @ W.T + b
            hidden.append(z)
            a = xp.maximum(z, 0)
        z = a @ self.weights[-1].T + self.biases[-1]
        z = z - z.max(axis=1, keepdims=True)
        p = xp.exp(z)
        return hidden, p / p.sum(axis=1, keepdims=True)

    def gradients(self, X, y):
        """Gradients of the mean cross-entropy of labels y, in :meth:`arrays` order."""
        xp = array_module(X)
        hidden, p = self.forward(X)
        dz = p.copy()
        dz[xp.arange(len(y)), y] -= 1
        dz /= len(y)
        grads = []
        for layer in range(len(self.weights) - 1, -1, -1):
            a = X if layer == 0 else xp.maximum(hidden[layer - 1], 0)
            grads = [dz.T @ a, dz.sum(0)] + grads
            if layer:
                dz = (dz @ self.weights[layer]) * (hidden[layer - 1] > 0)
        return grads

    def predict_proba(self, X):
        return self.forward(X)[1]

    def arrays(self):
        return [a for pair in zip(self.weights, self.biases) for a in pair]


def layer_widths(cfg):
    """The neural thermometer's layer widths for a config: inputs (one per site, or q per site
    one-hot), ``thermometer.hidden``, one output per temperature."""
    m = cfg.model
    return [m.L ** m.dim * (1 if m.kind == "ising" else m.q), *cfg.thermometer.hidden, len(cfg.sampling.temperatures)]


def parameter_bytes(widths):
    """Bytes of an MLP's float64 weights and biases."""
    return sum(a * b + b for a, b in zip(widths, widths[1:])) * 8


def init_mlp(inputs, hidden, classes, seed, field_index):
    """He-initialised weights from the Philox stream (Box-Muller; step = layer), zero biases;
    ``hidden``: the units of each hidden layer."""
    sizes = [inputs, *hidden, classes]
    weights = []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        u = uniforms((n_out, 2 * n_in), np.float64, seed, np.arange(n_out), layer, field_index, _INIT)
        weights.append(normals(u) * np.sqrt(2 / n_in))
    return MLP(weights, [np.zeros(n) for n in sizes[1:]])


def adam_step(mlp, moments, X, y, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step (step number ``t`` >= 1) of ``mlp`` on the batch X, y, in place; ``moments``:
    [[m, v]] per array of :meth:`MLP.arrays`."""
    xp = array_module(X)
    for a, (m, v), g in zip(mlp.arrays(), moments, mlp.gradients(X, y)):
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        a -= learning_rate * (m / (1 - beta1**t)) / (xp.sqrt(v / (1 - beta2**t)) + eps)


def train_classifier(X, labels, classes, cfg_t, seed, field_index, pause=None, resume=None, xp=np):
    """Train on the training set X (n_train, inputs), float64, with ``labels`` (n_train,) in the
    order of training sample g; returns the MLP, its arrays in ``xp`` (where the training ran).
    ``pause(epochs done, Adam step, mlp, moments)``: called after every epoch, to checkpoint, with
    NumPy arrays; ``resume``: (epochs done, Adam step, arrays, moments) that ``pause`` was given.
    """
    mlp = init_mlp(X.shape[1], cfg_t.hidden, classes, seed, field_index).on(xp)
    moments = [[xp.zeros_like(a), xp.zeros_like(a)] for a in mlp.arrays()]
    t = first = 0
    if resume is not None:
        first, t, arrays, saved = resume
        for a, (m, v), value, (m0, v0) in zip(mlp.arrays(), moments, arrays, saved):
            a[...], m[...], v[...] = xp.asarray(value), xp.asarray(m0), xp.asarray(v0)
    X, labels = xp.asarray(X, np.float64), xp.asarray(labels, np.int64)
    n_train, B = len(X), cfg_t.batch_size
    for epoch in range(first, cfg_t.epochs):
        order = xp.asarray(stream_order(n_train, seed, field_index, 0, epoch, _ORDER))
        for start in range(0, n_train - B + 1, B):
            batch = order[start:start + B]
            t += 1
            adam_step(mlp, moments, X[batch], labels[batch], t, cfg_t.learning_rate)
        if pause is not None:
            pause(epoch + 1, t, mlp.on(np), [[to_host(m), to_host(v)] for m, v in moments])
    return mlp


PREDICT_BLOCK = 64  # rows per forward pass when predicting: a fixed shape, the same results on any split


def predict_classes(mlp, X):
    """Argmax class (NumPy int64) of each row of X, computed in zero-padded blocks of
    PREDICT_BLOCK rows in the array module of ``mlp``'s weights (X is moved there)."""
    xp = array_module(mlp.weights[0])
    X = xp.asarray(X)
    n = len(X)
    out = np.empty(n, np.int64)
    for start in range(0, n, PREDICT_BLOCK):
        block = xp.zeros((PREDICT_BLOCK, X.shape[1]))
        part = X[start:start + PREDICT_BLOCK]
        block[:len(part)] = part
        out[start:start + len(part)] = to_host(mlp.predict_proba(block)[:len(part)].argmax(axis=1))
    return out


def calibration(mlp, X, labels, temperatures):
    """Per true temperature over the held-out set X with ``labels``: mean and standard deviation
    of the predicted T (argmax class); and the overall accuracy. From integer counts of
    (true, predicted) class pairs."""
    T = np.asarray(temperatures, float)
    nT = len(T)
    counts = np.zeros((nT, nT), np.int64)
    if len(X):
        np.add.at(counts, (labels, predict_classes(mlp, X)), 1)
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
