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
from ..log import get_logger
from ..protocol.stage import Stage, StageNeeds, busiest
from ..rbm.model import encode
from ..thermometers.neural import MLP, calibration, layer_widths, parameter_bytes, train_classifier


def visible_kind(model):
    """The MLP's input encoding: "bernoulli" for Ising spins, else "categorical"."""
    return "bernoulli" if model.kind == "ising" else "categorical"


class ThermometerCheckpoint:
    """checkpoints/thermometer.h5: the finished fields' MLPs and calibrations and the MLP in
    training with its Adam moments, written by rank 0 when the checkpoint timer says so (every
    rank holds the same MLPs)."""

    def __init__(self, ctx):
        self.checkpoint = ctx.checkpoint(files.THERMOMETER)
        self.finished, self.current = self.checkpoint.read(self._read) or ({}, None)
        # finished: field -> (arrays, mean, std, accuracy); current: (field, resume state) or None

    @staticmethod
    def _read(h5):
        finished, current = {}, None
        for name in h5.get(files.FINISHED, {}):
            g = h5[files.finished_group(name)]
            arrays = [g[f"array{i}"][...] for i in range(int(g.attrs["arrays"]))]
            finished[int(name)] = (arrays, g["mean"][...], g["std"][...], float(g.attrs["accuracy"]))
        if files.CURRENT in h5:
            g, n = h5[files.CURRENT], int(h5[files.CURRENT].attrs["arrays"])
            current = (int(g.attrs["field"]), (int(g.attrs["epoch"]), int(g.attrs["step"]),
                       [g[f"array{i}"][...] for i in range(n)],
                       [(g[f"m{i}"][...], g[f"v{i}"][...]) for i in range(n)]))
        return finished, current

    def resume(self, field_index):
        return self.current[1] if self.current and self.current[0] == field_index else None

    def pause(self, field_index):
        """The ``pause`` of train_classifier for field ``field_index``."""
        def pause(epoch, step, mlp, moments):
            self.current = (field_index, (epoch, step, mlp.arrays(), moments))
            self.checkpoint.save_if_due(lambda: self.checkpoint.write(self._write))
        return pause

    def _write(self, h5):
        for iH, (arrays, mean, std, accuracy) in self.finished.items():
            g = h5.create_group(files.finished_group(iH))
            g.attrs.update(arrays=len(arrays), accuracy=accuracy)
            g["mean"], g["std"] = mean, std
            for i, a in enumerate(arrays):
                g[f"array{i}"] = a
        if self.current is not None:
            iH, (epoch, step, arrays, moments) = self.current
            g = h5.create_group(files.CURRENT)
            g.attrs.update(field=iH, epoch=epoch, step=step, arrays=len(arrays))
            for i, (a, (m, v)) in enumerate(zip(arrays, moments)):
                g[f"array{i}"], g[f"m{i}"], g[f"v{i}"] = a, m, v


def train_thermometers(cfg, data, comm, checkpoint=None, xp=np):
    """One neural thermometer per field, trained data-parallel on this rank's visible vectors
    ``data`` (its grid slice, all samples) with the array module ``xp``; returns a list of (MLP
    (NumPy arrays), calibration mean (nT,), calibration std (nT,), held-out accuracy).
    ``checkpoint``: a :class:`ThermometerCheckpoint` to resume from and write to."""
    grid = Grid(cfg.sampling.temperatures, cfg.sampling.fields)
    nT, nH = grid.shape
    S = cfg.sampling.samples
    n_train = max(1, int(round((1 - cfg.thermometer.holdout) * S)))
    lo, hi = comm.slice(grid.size)
    out = []
    for iH in range(nH):
        if checkpoint is not None and iH in checkpoint.finished:
            arrays, mean, std, accuracy = checkpoint.finished[iH]
            out.append((MLP.from_arrays(arrays), mean, std, accuracy))
            continue
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
        stack = lambda parts, width=width: np.concatenate(parts) if parts else np.empty((0, width))  # noqa: E731
        rows = np.concatenate(rows) if rows else np.empty(0, np.int64)
        pause, resume = (checkpoint.pause(iH), checkpoint.resume(iH)) if checkpoint is not None else (None, None)
        mlp = train_classifier(stack(X_train), np.array(y_train, np.int64), rows, nT * n_train, nT,
                               cfg.thermometer, cfg.run.seed, iH, comm, pause, resume, xp)
        mean, std, accuracy = calibration(mlp, stack(X_test), np.array(y_test, np.int64), grid.temperatures, comm)
        mlp = mlp.on(np)
        out.append((mlp, mean, std, accuracy))
        if checkpoint is not None:
            checkpoint.finished[iH], checkpoint.current = ([a.copy() for a in mlp.arrays()], mean, std, accuracy), None
    return out


def compute(ctx):
    """Compute the thermometer stage on ``ctx`` (collective): thermometer.h5, resumed from its
    checkpoint when one of the same inputs exists."""
    cfg = ctx.cfg
    configs, _, _ = files.read_rank_configs(ctx.path(files.SAMPLES), cfg, ctx.comm)
    data = encode(configs, visible_kind(cfg.model), cfg.model.q, np.float64)
    checkpoint = ThermometerCheckpoint(ctx)
    if checkpoint.finished or checkpoint.current:
        get_logger().info("resuming from %s", checkpoint.checkpoint.path)
    thermometers = train_thermometers(cfg, data, ctx.comm, checkpoint, ctx.backend.xp)
    with ctx.writing() as f:
        files.write_thermometers(f, cfg.sampling.temperatures, cfg.sampling.fields,
                                 [(mlp.arrays(), mean, std, accuracy) for mlp, mean, std, accuracy in thermometers])
    checkpoint.checkpoint.remove()


def needs(cfg, ranks, upstream):
    """This rank's configurations and their encoding, the MLP with its Adam moments and a batch's
    activations; thermometer.h5 (one MLP and calibration per field)."""
    m, s, t = cfg.model, cfg.sampling, cfg.thermometer
    n_sites = m.L ** m.dim
    widths = layer_widths(cfg)
    mlp = parameter_bytes(widths)
    local = busiest(len(s.temperatures) * len(s.fields), ranks)
    return StageNeeds("thermometer", local * s.samples * (n_sites + 8 * widths[0]) + 4 * mlp
                      + 8 * t.batch_size * sum(widths),
                      {files.THERMOMETER: len(s.fields) * (mlp + 16 * len(s.temperatures))},
                      device=4 * mlp + 8 * 3 * max(t.batch_size, 64) * sum(widths))  # weights, moments, grads


STAGE = Stage("thermometer", files.THERMOMETER, sections=("thermometer",), reads=("simulate",),
              compute=compute, required=files.thermometer_required,
              needs=needs, summary="neural-thermometer stage: one MLP per field",
              limits="model.L, sampling.samples or thermometer.hidden",
              attrs=lambda cfg: {"model_description": "MLP: ReLU hidden layers of "
                                  + "-".join(map(str, cfg.thermometer.hidden))
                                  + " units, softmax over the training temperatures"})
