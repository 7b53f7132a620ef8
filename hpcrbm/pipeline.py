"""``hpcrbm run``: every stage in order, each skipped when its file is complete for the same
inputs, each resumable (simulate and train from their checkpoints; flow and analyze are short
and simply redone). Files appear under their final names only when complete."""
from .analysis.stage import analyze
from .flow.stage import run_flows
from .montecarlo.simulate import simulate
from .rbm.train import train


def run_all(cfg, comm, backend, quiet=False):
    """Run simulate, train, flow and analyze for ``cfg`` (collective); returns summary.json's path."""
    simulate(cfg, comm, backend, quiet=quiet)
    for stage in (train, run_flows):
        stage(cfg.out_dir, comm, backend, quiet=quiet, cfg=cfg)
    return analyze(cfg.out_dir, comm, backend, quiet=quiet, cfg=cfg)
