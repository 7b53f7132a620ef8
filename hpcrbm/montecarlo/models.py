"""The model factory: the one place that maps [model] to a model class."""
from .ising import IsingModel
from .qstate import QStateModel


def make_model(model_cfg):
    """IsingModel or QStateModel from a ModelConfig."""
    if model_cfg.kind == "ising":
        return IsingModel(model_cfg.dim, model_cfg.L, model_cfg.J)
    return QStateModel(model_cfg.kind, model_cfg.dim, model_cfg.L, model_cfg.q, model_cfg.J)
