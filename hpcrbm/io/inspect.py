"""What an hpcrbm HDF5 file holds: datasets, provenance, whether its stage completed."""
from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError


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
    first = ("model", "dim", "L", "q", "J", "seed", "ranks", "backend", "device", "writer", "hpcrbm_version",
             "git_revision", "h5py_version", "hdf5_version", "mpi_version", "start_time", "end_time", "seconds")
    long = ("config", "inputs", "summary", "stage", "complete")  # the config and fingerprint: --json shows them
    for key in [k for k in first if k in attrs] + sorted(k for k in attrs if k not in first and k not in long):
        lines.append(f"  {key:15s} {attrs[key]}")
    lines.append("  datasets:")
    for name, d in sorted(info["datasets"].items()):
        lines.append(f"    /{name:32s} {d['dtype']:8s} {tuple(d['shape'])}")
    return "\n".join(lines)
