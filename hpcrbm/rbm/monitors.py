"""Whether an RBM's training monitors have stopped improving: the plateau rule of
``rbm.stop = "plateau"``, and the same judgement of any finished training for the report.

The monitors, per visible unit: the exact log-likelihood where N_h allows it (every epoch's value
in the training history), else the pseudo-log-likelihood and the reconstruction error (lower is
better). With window w = ``rbm.patience`` epochs, a monitor's improvement per epoch is the mean of
its last w values minus the mean of the w before them, divided by w (sign: positive = better); the
monitors have *stopped improving* when every one improves by less than ``rbm.tolerance`` per
visible unit per epoch. The rule is checked at epochs that are multiples of w from 2 w on, from the
history alone, so it stops at the same epoch on any number of ranks and after a resume.
"""
import math

import numpy as np

# (history name, sign: +1 when higher is better)
EXACT = (("log_likelihood", 1.0),)
ESTIMATED = (("pseudo_likelihood", 1.0), ("reconstruction_error", -1.0))


def monitors(history):
    """The monitors of ``history`` (rbm.h5 ``history/`` as {name: sequence}): the exact
    log-likelihood when every epoch has one, else the pseudo-likelihood and reconstruction error."""
    ll = np.asarray(history.get("log_likelihood", []), float)
    return EXACT if len(ll) and np.isfinite(ll).all() else ESTIMATED


def trend(history, n_visible, window):
    """{"monitors": {name: improvement per visible unit per epoch over the last two windows},
    "epochs": epochs in the history}; an improvement is None with fewer than two windows."""
    epochs = len(history.get("epoch", []))
    out = {}
    for name, sign in monitors(history):
        values = np.asarray(history[name], float)
        if len(values) < 2 * window:
            out[name] = None
            continue
        recent, before = values[-window:].mean(), values[-2 * window:-window].mean()
        scale = n_visible if name != "reconstruction_error" else 1.0  # the error is already per unit
        out[name] = float(sign * (recent - before) / window / scale)
    return {"monitors": out, "epochs": epochs}


def stopped_improving(history, n_visible, window, tolerance):
    """Whether every monitor of ``history`` improved by less than ``tolerance`` per visible unit per
    epoch over the last two windows of ``window`` epochs (False with fewer than two windows)."""
    improvements = trend(history, n_visible, window)["monitors"].values()
    return all(v is not None and math.isfinite(v) and v < tolerance for v in improvements)


def plateau_reached(history, n_visible, window, tolerance):
    """The rule of ``rbm.stop = "plateau"`` after the epoch just appended to ``history``: checked at
    multiples of ``window`` from 2 ``window`` on."""
    epoch = len(history.get("epoch", []))
    return epoch >= 2 * window and epoch % window == 0 and stopped_improving(history, n_visible, window, tolerance)
