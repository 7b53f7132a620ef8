"""The stages of a run, in pipeline order: the one registry that the pipeline, the plan,
campaigns, the command line and the analysis read stage facts from.

Each module here computes one stage and ends with its declaration, ``STAGE = Stage(...)``
(hpcrbm/protocol/stage.py says what a stage declares). Adding a stage is one new module in this
folder and one entry below.
"""
from . import analyze, flow, simulate, thermometer, train

STAGES = (simulate.STAGE, train.STAGE, thermometer.STAGE, flow.STAGE, analyze.STAGE)


def registered():
    """The stages of a run in pipeline order (the registry as it is now: tests may extend it)."""
    return STAGES


def stage_named(name):
    """The registered stage called ``name``."""
    return next(s for s in registered() if s.name == name)


def source_stage():
    """The stage that makes the run's data from the config alone (hpcrbm simulate CONFIG)."""
    return next(s for s in registered() if s.source)
