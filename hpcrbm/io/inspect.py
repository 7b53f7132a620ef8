"""What an hpcrbm HDF5 file holds: datasets, provenance, whether its stage completed."""
from pathlib import Path

import h5py
import numpy as np

from ..config import loads
from ..errors import InputError


def stage_attrs(path):
    """(complete, inputs) attributes of a stage output file; None when it does not exist.
    Raises OSError when it exists but cannot be read as HDF5."""
    path = Path(path)
    if not path.exists():
        return None
    with h5py.File(path, "r") as h5:
        return bool(h5.attrs.get("complete", False)), h5.attrs.get("inputs")


def is_complete(path, inputs=None):
    """Whether ``path`` is a complete stage file (made from ``inputs`` when given); False
    when it is absent or unreadable (the stage then writes it again)."""
    try:
        attrs = stage_attrs(path)
    except OSError:
        return False
    return attrs is not None and attrs[0] and (inputs is None or attrs[1] == inputs)


def load_run_config(run_dir, overrides=()):
    """The resolved config stored in RUN_DIR/samples.h5, with ``--set`` overrides."""
    samples = Path(run_dir) / "samples.h5"
    try:
        with h5py.File(samples, "r") as h5:
            if not h5.attrs.get("complete", False):
                raise InputError(f"{samples}: the simulate stage has not completed; run hpcrbm simulate first")
            text = h5.attrs["config"]
    except (OSError, KeyError):
        raise InputError(f"{samples}: missing or not a complete hpcrbm samples file") from None
    return loads(text, overrides, source=str(samples))


def _plain(value):
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def describe(path):
    """{"file", "complete", "attributes", "datasets": {name: {"shape", "dtype"}}}.

    Raises InputError for a missing, non-HDF5, truncated or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        if not h5py.is_hdf5(path):
            raise InputError(f"{path}: not an HDF5 file")
        datasets = {}
        with h5py.File(path, "r") as h5:
            attrs = {k: _plain(v) for k, v in h5.attrs.items()}

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    datasets[name] = {"shape": list(obj.shape), "dtype": str(obj.dtype)}
            h5.visititems(visit)
    except InputError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: truncated or corrupt HDF5 file ({exc.__class__.__name__})") from None
    return {"file": str(path), "complete": bool(attrs.get("complete", False)), "attributes": attrs,
            "datasets": datasets}


def format_description(info):
    """Human-readable text of :func:`describe`'s result."""
    attrs = info["attributes"]
    lines = [f"{info['file']}: stage {attrs.get('stage', '?')}, "
             f"{'complete' if info['complete'] else 'NOT complete'}"]
    for key in ("model", "dim", "L", "q", "seed", "ranks", "backend", "device", "writer", "hpcrbm_version",
                "git_revision", "h5py_version", "hdf5_version", "mpi_version", "start_time", "end_time"):
        if key in attrs:
            lines.append(f"  {key:15s} {attrs[key]}")
    lines.append("  datasets:")
    for name, d in sorted(info["datasets"].items()):
        lines.append(f"    /{name:32s} {d['dtype']:8s} {tuple(d['shape'])}")
    return "\n".join(lines)
