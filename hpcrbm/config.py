"""TOML config -> frozen dataclasses: defaults, ``--set`` overrides, validation.

Every section is a frozen dataclass; unknown keys, wrong types and bad values raise
:class:`InputError` naming the dotted key and what is allowed. ``to_toml`` writes the
resolved config (defaults filled in) that every output file carries.
"""
import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .rng.streams import GRID_POINTS, MAX_POINTS, SYNTHETIC_POINTS


@dataclass(frozen=True)
class RunConfig:
    name: str = "hpcrbm"
    seed: int = 20180120
    backend: str = "auto"  # "auto" | "cpu" | "gpu"
    out: str = ""  # run directory; "" means runs/NAME
    checkpoint_interval: float = 60.0  # seconds of wall time between checkpoints


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "ising"  # "ising" | "potts" | "clock"
    dim: int = 2
    L: int = 10
    q: int = 2
    J: float = 1.0


@dataclass(frozen=True)
class SamplingConfig:
    temperatures: tuple[float, ...] = (1.0, 2.0, 2.269, 3.0, 4.0)
    fields: tuple[float, ...] = (0.0,)
    algorithm: str = "metropolis"
    thermalize: int = 1000  # sweeps before the first stored sample
    samples: int = 1000  # stored per (T, H) point
    interval: int = 10  # sweeps between stored samples of one replica
    replicas: int = 0  # independent chains per point; 0 = auto (see docs/config.md)
    start: str = "ordered"  # "ordered" (all +1 or all -1 per replica) | "random" | "up"
    tempering: bool = False
    exchange_every: int = 10


@dataclass(frozen=True)
class RBMConfig:
    hidden: tuple[int, ...] = (16, 36, 64, 100)
    visible: str = "auto"  # "bernoulli" | "categorical"; "auto": bernoulli for Ising, else categorical
    method: str = "pcd"  # "cd" | "pcd"
    k: int = 1
    learning_rate: float = 0.01
    batch_size: int = 100
    epochs: int = 100  # with stop = "plateau": the most epochs
    stop: str = "epochs"  # "epochs": train rbm.epochs; "plateau": stop once the monitors stop improving
    patience: int = 50  # epochs per window of the plateau rule (rbm/monitors.py)
    tolerance: float = 1e-5  # improvement per visible unit per epoch below which a monitor has stopped
    momentum: float = 0.0
    weight_decay: float = 0.0
    dtype: str = "float32"  # "float32" | "float64"
    ais_chains: int = 100  # AIS estimate of log Z when Nh > 20
    ais_steps: int = 1000
    snapshots: tuple[int, ...] = ()  # epochs (< epochs) at which each RBM is also kept and flowed
    seeds: int = 1  # independently trained RBMs per Nh (training seeds 0 .. seeds - 1)
    biases: bool = True  # false: b = c = 0, only W is trained (Bernoulli visibles)
    init_std: float = 0.01  # W starts as N(0, init_std**2)
    random_sign: bool = False  # Ising at H = 0: every training configuration gets a random global sign
    train_fraction: float = 1.0  # the first fraction of each (T, H) point's samples is the training set
    parallel: str = "auto"  # "data": all ranks train each RBM; "models": each rank trains whole RBMs; "auto"


@dataclass(frozen=True)
class ThermometerConfig:
    hidden: tuple[int, ...] = (64,)  # units of each hidden (ReLU) layer of the classifier; n means [n]
    epochs: int = 20
    learning_rate: float = 1e-3  # Adam
    batch_size: int = 100
    holdout: float = 0.2  # fraction of each temperature's samples kept for calibration


@dataclass(frozen=True)
class FlowConfig:
    steps: int = 20
    mode: str = "both"  # "mean-field" | "sample" | "both"
    starts: tuple[str, ...] = ("mc", "up", "random")
    samples: int = 0  # chains per start (MC starts: the first samples of each (T, H)); 0: min(200, samples)


@dataclass(frozen=True)
class AnalysisConfig:
    z: float = 3.0  # readings within z combined errors (+ resolution) are the same temperature
    resolution: float = 0.02  # temperature difference no thermometer is trusted to resolve
    window: int = 0  # flow steps over which a stopped flow must not move; 0: a quarter of flow.steps


@dataclass(frozen=True)
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    rbm: RBMConfig = field(default_factory=RBMConfig)
    thermometer: ThermometerConfig = field(default_factory=ThermometerConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    @property
    def out_dir(self) -> Path:
        return Path(self.run.out or f"runs/{self.run.name}")

    @property
    def replicas(self) -> int:
        """Chains per point: the configured value, or "auto": the largest divisor of
        ``samples`` such that thermalising the chains costs no more sweeps than sampling
        (R * thermalize <= samples * interval) and R lattices hold at most 2**20 spins."""
        s = self.sampling
        if s.replicas:
            return s.replicas
        n_sites = self.model.L ** self.model.dim
        cap = min(s.samples, (1 << 20) // n_sites, s.samples * s.interval // max(s.thermalize, 1))
        cap = max(1, cap)
        return max(r for r in range(1, cap + 1) if s.samples % r == 0)


_SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}
_CHOICES = {
    "run.backend": ("auto", "cpu", "gpu"),
    "model.kind": ("ising", "potts", "clock"),
    "model.dim": (1, 2),
    "sampling.algorithm": ("metropolis", "wolff", "swendsen-wang"),
    "sampling.start": ("ordered", "random", "up"),
    "rbm.visible": ("auto", "bernoulli", "categorical"),
    "rbm.method": ("cd", "pcd"),
    "rbm.stop": ("epochs", "plateau"),
    "rbm.dtype": ("float32", "float64"),
    "rbm.parallel": ("auto", "data", "models"),
    "flow.mode": ("mean-field", "sample", "both"),
}
_MAY_BE_EMPTY = {"rbm.snapshots"}
MAX_TRAINING_SEEDS = 255  # the stream point Nh + 2**16 * seed stays below 2**24 (rng/streams.py)
MAX_FIELD = 1000.0  # |H| / J; e^(2 |H| / T) stays finite for T > 0.003 J
MAX_Q = 12  # Potts and clock: the Metropolis table has q**(z + 2) entries
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _coerce(key, value, typ):
    """Check ``value`` against the annotation ``typ``; return it in canonical form."""
    origin = typing.get_origin(typ)
    if origin is tuple:
        item = typing.get_args(typ)[0]
        if not isinstance(value, (list, tuple)) or (not value and key not in _MAY_BE_EMPTY):
            raise InputError(f"config key {key}: expected a non-empty list of {_TYPE_NAMES[item][2:]}s")
        return tuple(_coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value))
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
        raise InputError(f"config key {key}: expected {_TYPE_NAMES[typ]}, got {value!r}")
    if typ is float and not math.isfinite(value):
        raise InputError(f"config key {key}: expected a finite number, got {value!r}")
    return value


def _temperature_range(key, spec):
    """{start, stop, step} -> tuple, stop included (to within step / 1000)."""
    if set(spec) != {"start", "stop", "step"}:
        raise InputError(f"config key {key}: a table needs exactly the keys start, stop, step")
    start, stop, step = (_coerce(f"{key}.{k}", spec[k], float) for k in ("start", "stop", "step"))
    if step <= 0 or stop < start:
        raise InputError(f"config key {key}: need step > 0 and stop >= start")
    n = int(math.floor((stop - start) / step + 1e-3)) + 1
    if n > 100000:
        raise InputError(f"config key {key}: more than 100000 temperatures")
    return tuple(round(start + i * step, 12) for i in range(n))


def _section(name, cls, table):
    if not isinstance(table, dict):
        raise InputError(f"config section [{name}]: expected a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        dotted = f"{name}.{key}"
        if key not in known:
            allowed = ", ".join(known) or "none"
            raise InputError(f"config key {dotted}: unknown key (allowed in [{name}]: {allowed})")
        if dotted == "thermometer.hidden" and isinstance(value, int) and not isinstance(value, bool):
            value = [value]  # one hidden layer (the form before layers could be listed)
        if dotted == "sampling.temperatures" and isinstance(value, dict):
            values[key] = _temperature_range(dotted, value)
            continue
        values[key] = _coerce(dotted, value, known[key].type)
    return cls(**values)


def check_values(cfg: Config):
    def bad(key, allowed):
        raise InputError(f"config key {key}: {allowed}")

    for key, choices in _CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value not in choices:
            bad(key, f"{value!r} is not one of {', '.join(map(repr, choices))}")
    m, s, r = cfg.model, cfg.sampling, cfg.rbm
    name = cfg.run.name
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        bad("run.name", f"{name!r} must be a plain name (no '/', not '.' or '..'): the run goes to runs/NAME; "
                        "choose another directory with run.out or --out")
    if not 0 <= cfg.run.seed < 2**64:
        bad("run.seed", "must be an integer in [0, 2**64)")
    if cfg.run.checkpoint_interval <= 0:
        bad("run.checkpoint_interval", "must be > 0 seconds")
    if m.L < 2:
        bad("model.L", f"must be >= 2, got {m.L}")
    if m.dim == 2 and m.L % 2:
        bad("model.L", f"must be even for the 2D checkerboard update, got {m.L}")
    if m.L**m.dim > 2**32:
        bad("model.L", "at most 2**32 sites")
    if m.kind == "ising" and m.q != 2:
        bad("model.q", "must be 2 for the Ising model")
    if m.kind in ("potts", "clock") and not 2 <= m.q <= MAX_Q:
        bad("model.q", f"must be in 2..{MAX_Q} for the {m.kind} model, got {m.q}")
    if s.algorithm != "metropolis":
        if m.kind == "clock":
            bad("sampling.algorithm", f"{s.algorithm!r} is for Ising and Potts models; use 'metropolis' for clock")
        if any(h != 0 for h in s.fields):
            bad("sampling.fields", f"cluster updates ({s.algorithm!r}) need every field to be 0")
        if m.J <= 0:
            bad("model.J", f"cluster updates ({s.algorithm!r}) need a ferromagnetic J > 0")
        if s.algorithm == "wolff" and s.thermalize < 1:
            bad("sampling.thermalize", "must be >= 1 for 'wolff' (it sets the clusters per sweep)")
    if m.J == 0:
        bad("model.J", "must be non-zero (J = 0: no interaction, nothing for the flows to find)")
    if any(t <= 0 for t in s.temperatures):
        bad("sampling.temperatures", "every temperature must be > 0")
    for key, values in (("sampling.temperatures", s.temperatures), ("sampling.fields", s.fields)):
        if len(set(values)) != len(values):
            bad(key, "values must not repeat")
        if list(values) != sorted(values):
            bad(key, f"must be in increasing order (the controls and windows use the first and last), got "
                     f"{', '.join(f'{v:g}' for v in values)}")
    if any(abs(h) > MAX_FIELD * abs(m.J) for h in s.fields):
        bad("sampling.fields", f"every field must be within +-{MAX_FIELD} J (beyond it the lattice is frozen "
                               "along the field at any temperature)")
    if len(s.temperatures) * len(s.fields) > GRID_POINTS:
        bad("sampling.temperatures", f"at most {GRID_POINTS} (T, H) points (2**22; rng/streams.py)")
    if (len(s.temperatures) + 2) * len(s.fields) > MAX_POINTS - SYNTHETIC_POINTS:
        bad("sampling.fields", "too many fields: flow starts (nT + 2) * nH must stay below 2**23 (rng/streams.py)")
    for key in ("thermalize",):
        if getattr(s, key) < 0:
            bad(f"sampling.{key}", "must be >= 0")
    for key in ("samples", "interval", "exchange_every"):
        if getattr(s, key) < 1:
            bad(f"sampling.{key}", f"must be >= 1, got {getattr(s, key)}")
    if s.replicas < 0 or (s.replicas and s.samples % s.replicas):
        bad("sampling.replicas", "must be 0 (auto) or a positive divisor of sampling.samples")
    if s.tempering and len(s.temperatures) < 2:
        bad("sampling.tempering", "needs at least two temperatures")
    if any(n < 1 for n in r.hidden):
        bad("rbm.hidden", "every number of hidden units must be >= 1")
    if len(set(r.hidden)) != len(r.hidden):
        bad("rbm.hidden", "sizes must not repeat (rbm.seeds trains independent copies of one size)")
    if r.learning_rate <= 0:
        bad("rbm.learning_rate", "must be > 0")
    for key in ("k", "batch_size", "epochs", "ais_chains", "ais_steps"):
        if getattr(r, key) < 1:
            bad(f"rbm.{key}", "must be >= 1")
    if list(r.snapshots) != sorted(set(r.snapshots)) or any(not 1 <= e < r.epochs for e in r.snapshots):
        bad("rbm.snapshots", f"must be increasing epochs in 1..rbm.epochs - 1 ({r.epochs - 1}); the last epoch is "
                             "always kept")
    if r.patience < 1:
        bad("rbm.patience", "must be >= 1")
    if r.tolerance < 0:
        bad("rbm.tolerance", "must be >= 0")
    if r.stop == "plateau" and r.snapshots:
        bad("rbm.snapshots", "need rbm.stop = \"epochs\" (with \"plateau\" the last epoch is not known in advance)")
    if not 1 <= r.seeds <= MAX_TRAINING_SEEDS:
        bad("rbm.seeds", f"must be in 1..{MAX_TRAINING_SEEDS}")
    if any(n >= 2**16 for n in r.hidden):
        bad("rbm.hidden", "every number of hidden units must be below 65536 (rng/streams.py)")
    if r.init_std <= 0:
        bad("rbm.init_std", "must be > 0")
    if not r.biases and (r.visible == "categorical" or (r.visible == "auto" and m.kind != "ising")):
        bad("rbm.biases", "false needs Bernoulli visibles (Ising): the categorical gauge moves weight into c")
    if r.random_sign and (m.kind != "ising" or any(h != 0 for h in s.fields)):
        bad("rbm.random_sign", "is for the Ising model with every field 0 (the sign flip is a symmetry only there)")
    if not 0 < r.train_fraction <= 1 or round(r.train_fraction * s.samples) < 1:
        bad("rbm.train_fraction", "must be in (0, 1] and keep at least one sample per point")
    if not 0 <= r.momentum < 1:
        bad("rbm.momentum", "must be in [0, 1)")
    if r.weight_decay < 0:
        bad("rbm.weight_decay", "must be >= 0")
    if r.visible == "bernoulli" and m.kind != "ising":
        bad("rbm.visible", f"'bernoulli' is for Ising spins; use 'categorical' for the {m.kind} model")
    t = cfg.thermometer
    for key in ("epochs", "batch_size"):
        if getattr(t, key) < 1:
            bad(f"thermometer.{key}", "must be >= 1")
    if any(n < 1 for n in t.hidden):
        bad("thermometer.hidden", "every layer needs >= 1 unit")
    if t.learning_rate <= 0:
        bad("thermometer.learning_rate", "must be > 0")
    if not 0 < t.holdout < 1:
        bad("thermometer.holdout", "must be in (0, 1)")
    if cfg.flow.steps < 1:
        bad("flow.steps", "must be >= 1")
    a = cfg.analysis
    if a.z <= 0:
        bad("analysis.z", "must be > 0")
    if a.resolution < 0:
        bad("analysis.resolution", "must be >= 0")
    if not 0 <= a.window <= cfg.flow.steps:
        bad("analysis.window", f"must be 0 (a quarter of flow.steps) or in 1..flow.steps ({cfg.flow.steps})")
    if cfg.flow.samples and not 1 <= cfg.flow.samples <= s.samples:
        bad("flow.samples", f"must be 0 (auto) or in 1..sampling.samples ({s.samples})")
    if any(st not in ("mc", "up", "random") for st in cfg.flow.starts):
        bad("flow.starts", "each start must be 'mc', 'up' or 'random'")


def _parse_override(item):
    """'section.key=VALUE' -> (section, key, value); VALUE is TOML, else a bare string."""
    if "=" not in item:
        raise InputError(f"--set {item}: expected KEY=VALUE, e.g. --set model.L=16")
    key, text = item.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) != 2 or parts[0] not in _SECTIONS:
        raise InputError(f"--set {key}: expected SECTION.KEY with SECTION one of {', '.join(_SECTIONS)}")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return parts[0], parts[1], value


def from_dict(data: dict, overrides=()) -> Config:
    """Build and validate a Config from parsed TOML plus ``--set`` overrides."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for item in overrides:
        section, key, value = _parse_override(item)
        data.setdefault(section, {})[key] = value
    for name in data:
        if name not in _SECTIONS:
            raise InputError(f"config section [{name}]: unknown (allowed: {', '.join(_SECTIONS)})")
    cfg = Config(**{name: _section(name, _SECTIONS[name], table) for name, table in data.items()})
    check_values(cfg)
    return _resolve_automatic(cfg)


def _resolve_automatic(cfg):
    """Replace the "auto" values (rbm.visible, flow.samples = 0) by what they resolve to."""
    if cfg.rbm.visible == "auto":
        visible = "bernoulli" if cfg.model.kind == "ising" else "categorical"
        cfg = dataclasses.replace(cfg, rbm=dataclasses.replace(cfg.rbm, visible=visible))
    if cfg.flow.samples == 0:
        chains = min(200, cfg.sampling.samples)
        cfg = dataclasses.replace(cfg, flow=dataclasses.replace(cfg.flow, samples=chains))
    return cfg


def load(path, overrides=()) -> Config:
    """Read a TOML config file; every problem is an InputError naming the file or key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"config file {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"config file {path}: not UTF-8 text (byte {exc.start}); a config is a TOML file") from None
    return loads(text, overrides, source=str(path))


def loads(text, overrides=(), source="config") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {source}: malformed TOML ({exc})") from None
    return from_dict(data, overrides)


def toml_value(value):
    """A bool, number, string or list of them as TOML text (for files and --set overrides)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def to_toml(cfg: Config) -> str:
    """The resolved config as TOML text; ``loads(to_toml(c)) == c``."""
    lines = []
    for name in _SECTIONS:
        lines.append(f"[{name}]")
        section = getattr(cfg, name)
        for f in dataclasses.fields(section):
            lines.append(f"{f.name} = {toml_value(getattr(section, f.name))}")
        lines.append("")
    return "\n".join(lines)


NOT_IN_RESULTS = {"rbm.parallel"}  # how the work is split, which changes no number


def fingerprint(cfg: Config, keys) -> str:
    """Canonical TOML of the sections or dotted keys that a stage's results depend on.

    A stage's output and checkpoints carry it (attribute ``inputs``); a different
    fingerprint means different results, equal fingerprints mean the stage can be
    skipped or resumed (run.out, run.backend, run.checkpoint_interval and rbm.parallel never
    matter: :data:`NOT_IN_RESULTS`).
    """
    lines = []
    for key in keys:
        section, _, name = key.partition(".")
        part = getattr(cfg, section)
        names = [name] if name else [f.name for f in dataclasses.fields(part)
                                     if f"{section}.{f.name}" not in NOT_IN_RESULTS]
        lines += [f"{section}.{n} = {toml_value(getattr(part, n))}" for n in names]
    return "\n".join(lines)
