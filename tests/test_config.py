import dataclasses

import pytest

from hpcrbm.config import Config, fingerprint, load, loads, to_toml
from hpcrbm.errors import InputError

from .conftest import ROOT


def test_defaults_and_resolved_round_trip():
    cfg = loads("")
    automatic = dataclasses.replace(cfg, rbm=dataclasses.replace(cfg.rbm, visible="auto"),
                                    flow=dataclasses.replace(cfg.flow, samples=0))
    assert automatic == Config()
    assert cfg.flow.samples == 200 and loads("[sampling]\nsamples = 10").flow.samples == 10
    assert cfg.rbm.visible == "bernoulli"  # "auto" resolves by model kind
    assert loads("[model]\nkind = 'potts'\nq = 3").rbm.visible == "categorical"
    assert loads(to_toml(cfg)) == cfg


SHIPPED = sorted(p for p in (ROOT / "configs").rglob("*.toml") if "[campaign]" not in p.read_text())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_shipped_configs_load_and_round_trip(path):
    cfg = load(path)
    assert loads(to_toml(cfg)) == cfg


def test_a_thermometer_of_one_layer_may_be_a_number():
    assert loads("[thermometer]\nhidden = 64").thermometer.hidden == (64,) == Config().thermometer.hidden
    assert loads("[thermometer]\nhidden = [512, 256, 64]").thermometer.hidden == (512, 256, 64)


def test_temperature_range_includes_stop():
    cfg = loads("[sampling]\ntemperatures = {start = 0.25, stop = 6.0, step = 0.25}")
    assert cfg.sampling.temperatures[0] == 0.25 and cfg.sampling.temperatures[-1] == 6.0
    assert len(cfg.sampling.temperatures) == 24


def test_overrides():
    cfg = loads("[model]\nL = 10", ["model.L=16", "rbm.hidden=[16,64]", "run.name=abc", "sampling.fields=[0, 0.5]"])
    assert cfg.model.L == 16 and cfg.rbm.hidden == (16, 64) and cfg.run.name == "abc"
    assert cfg.sampling.fields == (0.0, 0.5)


def test_auto_replicas():
    cfg = loads("[model]\nL = 10\n[sampling]\nsamples = 1000\ninterval = 10\nthermalize = 1000")
    assert cfg.replicas == 10
    cfg = loads("[model]\nL = 10\n[sampling]\nsamples = 1000\nreplicas = 250")
    assert cfg.replicas == 250
    big = loads("[model]\nL = 2048\n[sampling]\nsamples = 10\ninterval = 1000\nthermalize = 10")
    assert big.replicas == 1


def test_fingerprint_ignores_where_and_how_but_not_what():
    a = loads("[run]\nout = 'x'\nbackend = 'cpu'\ncheckpoint_interval = 5")
    b = loads("[run]\nout = 'y'")
    keys = ("run.seed", "model", "sampling")
    assert fingerprint(a, keys) == fingerprint(b, keys)
    assert fingerprint(loads("[model]\nL = 12"), keys) != fingerprint(b, keys)
    assert fingerprint(loads("[rbm]\nparallel = 'models'"), ("rbm",)) == fingerprint(b, ("rbm",))


BAD = [
    ("[model]\nLL = 10", "model.LL"),
    ("[modle]\nL = 10", "[modle]"),
    ("[model]\nL = 'ten'", "model.L"),
    ("[model]\nL = 10.0", "model.L"),
    ("[model]\nL = 11", "model.L"),
    ("[model]\ndim = 1\nL = 1", "model.L"),
    ("[model]\ndim = 3", "model.dim"),
    ("[sampling]\ntemperatures = [1.0, 0.0]", "sampling.temperatures"),
    ("[sampling]\ntemperatures = [-1.0]", "sampling.temperatures"),
    ("[sampling]\ntemperatures = [3.0, 1.5, 2.27]", "sampling.temperatures: must be in increasing order"),
    ("[sampling]\ntemperatures = [1.5, 1.5, 2.27]", "sampling.temperatures: values must not repeat"),
    ("[sampling]\nfields = [0.5, 0.0]", "sampling.fields: must be in increasing order"),
    ("[sampling]\nfields = [0.0, 0.0]", "sampling.fields: values must not repeat"),
    ("[model]\nJ = 0.0", "model.J: must be non-zero"),
    ("[rbm]\nhidden = [8, 8]", "rbm.hidden: sizes must not repeat"),
    ("[sampling]\ntemperatures = []", "sampling.temperatures"),
    ("[sampling]\nsamples = 0", "sampling.samples"),
    ("[sampling]\ninterval = 0", "sampling.interval"),
    ("[sampling]\nsamples = 10\nreplicas = 3", "sampling.replicas"),
    ("[sampling]\ntemperatures = {start = 1, stop = 2}", "sampling.temperatures"),
    ("[sampling]\ntempering = 'yes'", "sampling.tempering"),
    ("[run]\nseed = -1", "run.seed"),
    ("[run]\nbackend = 'tpu'", "run.backend"),
    ("[rbm]\nhidden = [0]", "rbm.hidden"),
    ("[rbm]\nlearning_rate = 0", "rbm.learning_rate"),
    ("[rbm]\nvisible = 'gaussian'", "rbm.visible"),
    ("[model]\nkind = 'potts'\nq = 3\n[rbm]\nvisible = 'bernoulli'", "rbm.visible"),
    ("[rbm]\nmomentum = 1.0", "rbm.momentum"),
    ("[sampling]\nsamples = 10\n[flow]\nsamples = 20", "flow.samples"),
    ("[rbm]\ndtype = 'float16'", "rbm.dtype"),
    ("[model]\nL = [", "malformed TOML"),
    ("[model]\nkind = 'potts'\nq = 1", "model.q"),
    ("[model]\nkind = 'clock'\nq = 13", "model.q"),
    ("[model]\nkind = 'ising'\nq = 3", "model.q"),
    ("[model]\nkind = 'clock'\nq = 4\n[sampling]\nalgorithm = 'wolff'", "sampling.algorithm"),
    ("[sampling]\nalgorithm = 'wolff'\nfields = [0.0, 0.5]", "sampling.fields"),
    ("[sampling]\nalgorithm = 'swendsen-wang'\n[model]\nJ = -1.0", "model.J"),
    ("[sampling]\nalgorithm = 'heat-bath'", "sampling.algorithm"),
    ("[sampling]\ntempering = true\ntemperatures = [1.0]", "sampling.tempering"),
    ("[sampling]\nexchange_every = 0", "sampling.exchange_every"),
    ("[rbm]\nseeds = 0", "rbm.seeds"),
    ("[rbm]\nseeds = 256", "rbm.seeds"),
    ("[rbm]\nhidden = [65536]", "rbm.hidden"),
    ("[rbm]\ninit_std = 0", "rbm.init_std"),
    ("[rbm]\nparallel = 'pipeline'", "rbm.parallel"),
    ("[model]\nkind = 'potts'\nq = 3\n[rbm]\nbiases = false", "rbm.biases"),
    ("[sampling]\nfields = [0.0, 0.5]\n[rbm]\nrandom_sign = true", "rbm.random_sign"),
    ("[rbm]\ntrain_fraction = 0", "rbm.train_fraction"),
    ("[rbm]\ntrain_fraction = 1.5", "rbm.train_fraction"),
    ("[thermometer]\nhidden = [64, 0]", "thermometer.hidden"),
]


@pytest.mark.parametrize("text,needle", BAD)
def test_bad_config_names_the_key(text, needle):
    with pytest.raises(InputError) as info:
        loads(text)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_override():
    with pytest.raises(InputError, match="model.L"):
        loads("", ["model.L=3"])
    with pytest.raises(InputError, match="KEY=VALUE"):
        loads("", ["model.L"])
