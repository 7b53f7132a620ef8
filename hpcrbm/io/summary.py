"""summary.json, typed: what the analyze stage concluded about a run, read by the report, the
post-hoc tools and the figures through :class:`Summary` alone.

The JSON is the fields below in this order, ``schema_version`` first, indented by 2, strict
JSON: a value that is not a finite number is written as ``null`` (since schema_version 2; before,
as JavaScript's ``NaN``), and the top-level ``tc`` (null where no transition is known) is read
back as NaN. Summaries of schema_version 1 (the same fields, NaN where 2 has null) are read
too. A summary of another
``schema_version`` (or none: written before it existed), or one that is not JSON, is refused
with an InputError that names the file and its version and says to re-run ``hpcrbm analyze``.
Bump SCHEMA_VERSION whenever a field's meaning or shape changes.
"""
import dataclasses
import json
import math
from pathlib import Path

from ..errors import InputError
from .files import summary_path

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)  # 1: non-finite numbers as NaN; 1 and 2: no ``rbms`` (read as [])


def finite_or_null(value):
    """``value`` (JSON-like) with every float that is not finite replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


@dataclasses.dataclass(kw_only=True)
class Summary:
    """One run's conclusions. The nested values are JSON (dicts, lists, numbers, strings, None):

    - ``flows``: per (N_h, field, mode) {"nh", "field", "mode", "seeds", "fixed_point": {thermometer:
      verdict of analysis/attractors.py}, "end_state", "tc", "specific_heat_peak"}
      (analysis/fixed_points.py, analysis/observables.py);
    - ``training``: the same per epoch of rbm.snapshots (with "epoch"); ``controls``: per control
      RBM (with "control" instead of "nh");
    - ``exponents``: {fit name: analysis.exponents.fit_beta's dict}; ``rg``: {"block_spin": {b:
      [{"T", "T_blocked", "err"}]}, "talk_recursion_fixed_point_K", "talk_recursion_fixed_point_T"};
    - ``validation``: analysis.observables.validation's dict; ``nn_thermometer``: per field
      io.files.read_thermometer_calibration's dict;
    - ``protocol``: the settings run (stages/analyze.py); ``run_time``: {stage: {"seconds", "ranks"}}
      for simulate, train, thermometer, flow and analyze, the seconds of every segment of a
      resumed stage (the stage files' ``seconds`` attribute);
      ``created``: the time stamp;
    - ``rbms`` (schema_version 3): per trained RBM, how it was trained: {"key", "nh", "seed", "epochs",
      "stopped_by", "window", "monitors", "monitor_kind", "stopped_improving"}
      (analysis/training.py).
    """
    schema_version: int = SCHEMA_VERSION
    run: str
    model: str
    dim: int
    L: int
    q: int
    tc: float
    protocol: dict
    flows: list
    training: list
    exponents: dict
    rg: dict
    validation: dict
    controls: list
    nn_thermometer: list
    created: str
    run_time: dict
    rbms: list = dataclasses.field(default_factory=list)

    def as_dict(self):
        """The JSON object, in field order (a shallow dict: the nested values are shared)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_json(self, indent=2):
        """summary.json's text (``indent=None``: one line)."""
        return json.dumps(finite_or_null(self.as_dict()), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text, source="summary.json"):
        """The Summary of ``text``; InputError (naming ``source``) for text that is not a summary of
        this SCHEMA_VERSION."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise InputError(_refusal(source, "unreadable (not JSON)"))
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise InputError(_refusal(source, "without schema_version (older)" if version is None
                                      else f"of schema_version {version!r}"))
        names = [f.name for f in dataclasses.fields(cls)]
        if version < 3:
            data.setdefault("rbms", [])
        missing = [n for n in names if n not in data]
        unknown = [k for k in data if k not in names]
        if missing or unknown:
            raise InputError(_refusal(source, f"of schema_version {version} with "
                                      + (f"no {missing[0]}" if missing else f"an unknown key {unknown[0]}")))
        if data["tc"] is None:
            data["tc"] = math.nan
        data["schema_version"] = SCHEMA_VERSION  # as this code writes it
        return cls(**data)

    @classmethod
    def read(cls, run_dir):
        """The Summary of RUN_DIR/summary.json; InputError when it is missing or not a summary of
        this SCHEMA_VERSION."""
        path = summary_path(run_dir)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            raise InputError(f"{path}: missing or unreadable; run hpcrbm analyze {Path(run_dir)}") from None
        return cls.from_json(text, path)


def _refusal(source, what):
    source = Path(source)
    return (f"{source}: a summary {what}, this hpcrbm reads schema_version {SCHEMA_VERSION}; "
            f"re-run hpcrbm analyze {source.parent}")
