"""The thermometer stage: ``hpcrbm thermometer RUN_DIR`` trains the papers' neural thermometer
(one MLP classifier per field, thermometers/neural.py; each rank trains whole fields) on the
labelled configurations of samples.h5 and writes ``thermometer.h5`` (layout in io/files.py) with each MLP's held-out
calibration. Its inputs are ``[thermometer]`` and samples.h5 only: changing the RBMs does not
retrain it, and changing it does not retrain the RBMs.

The MLP reads the configurations as the RBMs' natural visible units: Ising spins as
v = (1 + s) / 2, Potts and clock states one-hot.
"""
import dataclasses

import numpy as np

from ..io import files
from ..log import get_logger
from ..parallel import Communicator
from ..protocol.checkpoint import wait_for_ranks
from ..protocol.stage import Stage, StageNeeds, TimeEstimate, busiest, job_owners, measure
from ..rbm.model import encode
from ..thermometers.neural import calibration, layer_widths, parameter_bytes, train_classifier


def visible_kind(model):
    """The MLP's input encoding: "bernoulli" for Ising spins, else "categorical"."""
    return "bernoulli" if model.kind == "ising" else "categorical"


class FieldCheckpoint:
    """checkpoints/thermometer_h{iH}.h5 of one field, kept by the rank training it: the MLP in
    training with its Adam moments, written when the checkpoint timer says so, then the finished
    MLP and its calibration (read by every rank at the end)."""

    def __init__(self, checkpoint, progress=None):
        self.checkpoint, self.progress = checkpoint, progress  # progress: updated every epoch
        self.finished, self.current = checkpoint.read(self._read) or (None, None)
        # finished: (arrays, mean, std, accuracy); current: (epoch, step, arrays, moments)

    @staticmethod
    def _read(h5):
        finished = current = None
        if files.FINISHED in h5:
            g = h5[files.FINISHED]
            arrays = [g[f"array{i}"][...] for i in range(int(g.attrs["arrays"]))]
            finished = (arrays, g["mean"][...], g["std"][...], float(g.attrs["accuracy"]))
        if files.CURRENT in h5:
            g, n = h5[files.CURRENT], int(h5[files.CURRENT].attrs["arrays"])
            current = (int(g.attrs["epoch"]), int(g.attrs["step"]), [g[f"array{i}"][...] for i in range(n)],
                       [(g[f"m{i}"][...], g[f"v{i}"][...]) for i in range(n)])
        return finished, current

    def pause(self, epoch, step, mlp, moments):
        """The ``pause`` of train_classifier."""
        self.current = (epoch, step, mlp.arrays(), moments)
        if self.progress is not None:
            self.progress.update(1)
        self.checkpoint.save_if_due(lambda: self.checkpoint.write(self._write))

    def finish(self, arrays, mean, std, accuracy):
        self.finished, self.current = ([a.copy() for a in arrays], mean, std, accuracy), None
        self.checkpoint.write(self._write)

    def _write(self, h5):
        if self.finished is not None:
            arrays, mean, std, accuracy = self.finished
            g = h5.create_group(files.FINISHED)
            g.attrs.update(arrays=len(arrays), accuracy=accuracy)
            g["mean"], g["std"] = mean, std
            for i, a in enumerate(arrays):
                g[f"array{i}"] = a
        if self.current is not None:
            epoch, step, arrays, moments = self.current
            g = h5.create_group(files.CURRENT)
            g.attrs.update(epoch=epoch, step=step, arrays=len(arrays))
            for i, (a, (m, v)) in enumerate(zip(arrays, moments)):
                g[f"array{i}"], g[f"m{i}"], g[f"v{i}"] = a, m, v


def field_data(cfg, path, field_index):
    """(training inputs, labels, held-out inputs, labels) of one field: the first
    1 - thermometer.holdout of each temperature's samples for training, in the order of training
    sample g = iT * n_train + j, the rest held out; inputs float64 (thermometer's encoding)."""
    nT, S = len(cfg.sampling.temperatures), cfg.sampling.samples
    n_train = max(1, int(round((1 - cfg.thermometer.holdout) * S)))
    configs = files.read_field_configs(path, field_index)
    data = encode(configs.reshape((nT * S,) + configs.shape[2:]), visible_kind(cfg.model), cfg.model.q, np.float64)
    data = data.reshape(nT, S, -1)
    labels = np.arange(nT)[:, None]
    return (data[:, :n_train].reshape(nT * n_train, -1), np.repeat(labels, n_train), data[:, n_train:].reshape(
        nT * (S - n_train), -1), np.repeat(labels, S - n_train))


def train_thermometer(cfg, path, field_index, checkpoint, xp=np):
    """The neural thermometer of one field (trained or resumed on this rank alone); returns
    (MLP arrays (NumPy), calibration mean (nT,), std (nT,), held-out accuracy)."""
    if checkpoint.finished is not None:
        return checkpoint.finished
    X, y, X_test, y_test = field_data(cfg, path, field_index)
    mlp = train_classifier(X, y, len(cfg.sampling.temperatures), cfg.thermometer, cfg.run.seed, field_index,
                           checkpoint.pause, checkpoint.current, xp).on(np)
    checkpoint.finish(mlp.arrays(), *calibration(mlp, X_test, y_test, cfg.sampling.temperatures))
    return checkpoint.finished


def compute(ctx):
    """Compute the thermometer stage on ``ctx`` (collective): thermometer.h5. Each rank trains
    whole fields (:func:`job_owners`, the same cost for every field), each resumed from its own
    checkpoint when one of the same inputs exists, and reads the others' results from their
    final checkpoints: the same bits on any number of ranks."""
    cfg, comm = ctx.cfg, ctx.comm
    fields = range(len(cfg.sampling.fields))
    owners = job_owners([1.0] * len(fields), comm.size)
    checkpoints = [FieldCheckpoint(ctx.checkpoint(files.thermometer_checkpoint(iH), f"\nfield = {iH}",
                                                  Communicator.alone())) for iH in fields]
    alone = dataclasses.replace(ctx, comm=Communicator.alone())  # progress on every rank that trains
    for iH in fields:
        field_checkpoint = checkpoints[iH]
        if owners[iH] == comm.rank and field_checkpoint.finished is None:
            done = field_checkpoint.current[0] if field_checkpoint.current is not None else 0
            if done:
                get_logger().info("field %d: resuming at epoch %d", iH, done)
            with alone.progress(cfg.thermometer.epochs, done, f"thermometer field {iH}", "epoch") as progress:
                field_checkpoint.progress = progress
                train_thermometer(cfg, ctx.path(files.SAMPLES), iH, field_checkpoint, ctx.backend.xp)
    wait_for_ranks(comm)  # ranks worked alone: no spinning, and a stop anywhere stops all
    results = [FieldCheckpoint(c.checkpoint).finished for c in checkpoints]
    with ctx.writing() as f:
        files.write_thermometers(f, cfg.sampling.temperatures, cfg.sampling.fields, results)
    if comm.is_root:
        for c in checkpoints:
            c.checkpoint.path.unlink(missing_ok=True)
    comm.barrier()


def needs(cfg, ranks, upstream):
    """One field's configurations and their encoding, the MLP with its Adam moments and a batch's
    activations; thermometer.h5 (one MLP and calibration per field)."""
    m, s, t = cfg.model, cfg.sampling, cfg.thermometer
    n_sites = m.L ** m.dim
    widths = layer_widths(cfg)
    mlp = parameter_bytes(widths)
    local = len(s.temperatures)  # one field at a time
    return StageNeeds("thermometer", local * s.samples * (n_sites + 8 * widths[0]) + 4 * mlp
                      + 8 * t.batch_size * sum(widths),
                      {files.THERMOMETER: len(s.fields) * (mlp + 16 * len(s.temperatures))},
                      device=4 * mlp + 8 * 3 * max(t.batch_size, 64) * sum(widths))  # weights, moments, grads


def estimate(cfg, ranks):
    """Adam steps of one field's MLP (epochs x training samples / batch), one timed on a random
    batch of this shape, times the fields of the busiest rank."""
    from ..thermometers.neural import adam_step, init_mlp
    t, s = cfg.thermometer, cfg.sampling
    widths = layer_widths(cfg)
    rng = np.random.default_rng(0)
    X = (rng.random((t.batch_size, widths[0])) < 0.5).astype(np.float64)
    y = rng.integers(0, len(s.temperatures), len(X))
    mlp = init_mlp(widths[0], t.hidden, len(s.temperatures), cfg.run.seed, 0)
    moments = [[np.zeros_like(a), np.zeros_like(a)] for a in mlp.arrays()]
    step_seconds, compile_seconds = measure(lambda: adam_step(mlp, moments, X, y, 1, t.learning_rate), repeats=5)
    n_train = max(1, int(round((1 - t.holdout) * s.samples))) * len(s.temperatures)
    steps = t.epochs * (n_train // t.batch_size) * busiest(len(s.fields), ranks)
    return TimeEstimate(steps * step_seconds, compile_seconds, f"{steps} Adam steps at {step_seconds * 1e3:.3g} ms")


STAGE = Stage("thermometer", files.THERMOMETER, sections=("thermometer",), reads=("simulate",),
              compute=compute, required=files.thermometer_required, estimate=estimate,
              needs=needs, summary="neural-thermometer stage: one MLP per field",
              limits="model.L, sampling.samples or thermometer.hidden",
              attrs=lambda cfg: {"model_description": "MLP: ReLU hidden layers of "
                                  + "-".join(map(str, cfg.thermometer.hidden))
                                  + " units, softmax over the training temperatures"})
