"""Campaigns: one TOML file expands into many runs (a sweep over config keys).

    [campaign]
    name = "potts-q"
    base = "../configs/potts3.toml"      # relative to the campaign file
    out = "runs/campaigns/potts-q"       # each run goes to OUT/NAME
    [sweep]
    "model.q" = [2, 3, 4]
    "run.seed" = [1, 2]

A table inside [sweep] is one *linked* axis: its keys' lists have one length and their i-th
values go together (the run is named by the first key's value, or by the axis's ``name`` list,
which is not a config key):

    [sweep.size]
    "model.L" = [8, 16]
    "rbm.hidden" = [[64, 16], [256, 64]]

Runs are the Cartesian product of the sweep axes, in the order they are written; run i can
be run alone (``hpcrbm campaign run FILE --index i``, one Slurm array task per run) or all of
them one after another. Every run is an ordinary ``hpcrbm run``: skipped when complete, resumed
when interrupted.
"""
import itertools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .config import load, toml_value
from .errors import InputError


@dataclass(frozen=True)
class Campaign:
    name: str
    base: Path
    out: Path
    sweep: tuple  # axes ((dotted keys...), ((value of each key...), ...)), in file order

    def runs(self):
        """[(run name, [--set overrides])] in index order."""
        out = []
        for combo in itertools.product(*(values for _, values in self.sweep)):
            axes = list(zip((keys for keys, _ in self.sweep), combo))
            name = "_".join(_label(values[0]) if keys[0] == "name" else f"{keys[0].split('.')[-1]}{_label(values[0])}"
                            for keys, values in axes) or "run"
            overrides = [f"{k}={toml_value(v)}" for keys, values in axes for k, v in zip(keys, values) if k != "name"]
            overrides.append(f"run.out={toml_value(str(self.out / name))}")
            overrides.append(f"run.name={toml_value(f'{self.name}-{name}')}")
            out.append((name, overrides))
        return out

    def config(self, index):
        """The validated config of run ``index``."""
        return load(self.base, self.runs()[index][1])


def _label(value):
    if isinstance(value, (list, tuple)):
        return "-".join(map(_label, value))
    return str(value).replace("/", "-").replace(" ", "")


def load_campaign(path):
    """Read and validate a campaign file; every run's config is checked before anything runs."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"campaign file {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"campaign file {path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"campaign file {path}: malformed TOML ({exc})") from None
    unknown = set(data) - {"campaign", "sweep"}
    if unknown:
        raise InputError(f"campaign file {path}: unknown section [{sorted(unknown)[0]}] (allowed: campaign, sweep)")
    head = data.get("campaign", {})
    extra = set(head) - {"name", "base", "out"}
    if extra or not isinstance(head.get("base"), str):
        raise InputError(f"campaign file {path}: [campaign] needs base (a config path) and allows name, out"
                         + (f"; unknown key {sorted(extra)[0]}" if extra else ""))
    axes = []
    for key, values in data.get("sweep", {}).items():
        linked = values if isinstance(values, dict) else {key: values}
        if "name" in linked:  # the run names of a linked axis come first
            linked = {"name": linked["name"], **{k: v for k, v in linked.items() if k != "name"}}
            if not all(isinstance(v, str) and v for v in linked["name"]):
                raise InputError(f"campaign file {path}: [sweep.{key}] name: needs a list of non-empty strings")
        for k, v in linked.items():
            _check_sweep(path, k, v)
        lengths = {len(v) for v in linked.values()}
        if len(lengths) != 1:
            raise InputError(f"campaign file {path}: linked sweep [sweep.{key}]: every key needs a list of the same "
                             f"length (got {', '.join(f'{k}: {len(v)}' for k, v in linked.items())})")
        axes.append((tuple(linked), tuple(zip(*linked.values()))))
    name = str(head.get("name", path.stem))
    campaign = Campaign(name, (path.parent / head["base"]).resolve(), Path(head.get("out", f"runs/campaigns/{name}")),
                        tuple(axes))
    names = [name for name, _ in campaign.runs()]
    clash = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if clash:
        raise InputError(f"campaign file {path}: two runs of the sweep would share the directory {clash}; "
                         "make the swept values distinct as text")
    for i in range(len(campaign.runs())):
        campaign.config(i)  # raises InputError naming the bad key
    return campaign


def _check_sweep(path, key, values):
    if not isinstance(values, list) or not values:
        raise InputError(f"campaign file {path}: sweep key {key} needs a non-empty list of values")
    if key in ("run.out", "run.name"):
        raise InputError(f"campaign file {path}: sweep key {key}: a campaign names its runs (OUT/NAME from the "
                         "swept values); set [campaign] out instead")
    repeated = [toml_value(v) for i, v in enumerate(values) if v in values[:i]]
    if repeated:
        raise InputError(f"campaign file {path}: sweep key {key}: the value {repeated[0]} appears twice")


def status(campaign):
    """[{"index", "name", "out", stage file: current for the campaign's config?, "done"}] for
    every run, by the same fingerprints as ``hpcrbm run`` (an edited base config makes the runs
    it changes not done)."""
    from .pipeline import run_status
    rows = []
    for i, (name, _) in enumerate(campaign.runs()):
        cfg = campaign.config(i)
        rows.append({"index": i, "name": name, "out": str(cfg.out_dir), **run_status(cfg)})
    return rows


def format_status(rows):
    from .stages import registered
    stage_files = [s.output for s in registered()]
    lines = [f"{'index':>5}  {'run':30s}  " + "  ".join(f"{f:14s}" for f in stage_files) + "  done"]
    for r in rows:
        marks = "  ".join(f"{'yes' if r[f] else '-':14s}" for f in stage_files)
        lines.append(f"{r['index']:>5}  {r['name']:30s}  " + marks
                     + f"  {'yes' if r['done'] else 'no'}")
    lines.append(f"{sum(r['done'] for r in rows)} of {len(rows)} runs done")
    return "\n".join(lines)


def status_json(rows):
    return json.dumps(rows, indent=2)
