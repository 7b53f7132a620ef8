"""The thermometer stage: ``hpcrbm thermometer RUN_DIR`` trains the papers' neural thermometer
(one MLP classifier per field, thermometers/neural.py) on the labelled configurations of
samples.h5 and writes ``thermometer.h5`` (layout in io/files.py) with each MLP's held-out
calibration. Its inputs are ``[thermometer]`` and samples.h5 only: changing the RBMs does not
retrain it, and changing it does not retrain the RBMs.

The MLP reads the configurations as the RBMs' natural visible units: Ising spins as
v = (1 + s) / 2, Potts and clock states one-hot.
"""
import numpy as np

from ..grid import Grid
from ..io import files
from ..rbm.model import encode
from ..stage import Stage
from .neural import calibration, train_classifier


def visible_kind(model):
    """The MLP's input encoding: "bernoulli" for Ising spins, else "categorical"."""
    return "bernoulli" if model.kind == "ising" else "categorical"


def train_thermometers(cfg, data, comm, pause=None):
    """One neural thermometer per field, trained data-parallel on this rank's visible vectors
    ``data`` (its grid slice, all samples); returns a list of (MLP, calibration mean (nT,),
    calibration std (nT,), held-out accuracy). ``pause()``: called after every epoch (collective)."""
    grid = Grid(cfg.sampling.temperatures, cfg.sampling.fields)
    nT, nH = grid.shape
    S = cfg.sampling.samples
    n_train = max(1, int(round((1 - cfg.thermometer.holdout) * S)))
    lo, hi = comm.slice(grid.size)
    out = []
    for iH in range(nH):
        X_train, y_train, rows, X_test, y_test = [], [], [], [], []
        for p in range(lo, hi):
            iT, h = grid.index(p)
            if h != iH:
                continue
            block = data[(p - lo) * S:(p - lo + 1) * S]
            X_train.append(block[:n_train])
            X_test.append(block[n_train:])
            y_train += [iT] * n_train
            y_test += [iT] * (S - n_train)
            rows.append(iT * n_train + np.arange(n_train))
        width = data.shape[1]
        stack = lambda parts: np.concatenate(parts) if parts else np.empty((0, width))  # noqa: E731
        rows = np.concatenate(rows) if rows else np.empty(0, np.int64)
        mlp = train_classifier(stack(X_train), np.array(y_train, np.int64), rows, nT * n_train, nT,
                               cfg.thermometer, cfg.run.seed, iH, comm, pause)
        mean, std, accuracy = calibration(mlp, stack(X_test), np.array(y_test, np.int64), grid.temperatures, comm)
        out.append((mlp, mean, std, accuracy))
    return out


def train_thermometer_stage(ctx):
    """Compute the thermometer stage on ``ctx`` (collective): thermometer.h5."""
    cfg = ctx.cfg
    configs, _, _ = files.read_rank_configs(ctx.path(files.SAMPLES), cfg, ctx.comm)
    data = encode(configs, visible_kind(cfg.model), cfg.model.q, np.float64)
    thermometers = train_thermometers(cfg, data, ctx.comm, ctx.stop_point)
    with ctx.writing() as f:
        files.write_thermometers(f, cfg.sampling.temperatures, cfg.sampling.fields,
                                 [(mlp.arrays(), mean, std, accuracy) for mlp, mean, std, accuracy in thermometers])


STAGE = Stage("thermometer", files.THERMOMETER, sections=("thermometer",), reads=("simulate",),
              compute=train_thermometer_stage, required=files.thermometer_required,
              attrs=lambda cfg: {"model_description": "MLP: ReLU hidden layers of "
                                  + "-".join(map(str, cfg.thermometer.hidden))
                                  + " units, softmax over the training temperatures"})
