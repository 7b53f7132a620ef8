"""Compare two run directories file by file: every HDF5 dataset (values bit for bit, NaN equal
to NaN, dtype), the attributes that are not provenance, and summary.json without its time.

    python tools/compare_runs.py RUN_A RUN_B [--fingerprints-aside]

Prints one line per difference and exits 1 if there is any. ``--fingerprints-aside`` also leaves
out the ``inputs`` attributes (the fingerprints, which name the code's results versions): the
comparison of a run before and after a change of code that must not alter a number. Used to show that a change of the
code leaves a run's results as they were (docs/CHANGELOG.md says which differences are meant).
"""
import json
import sys
from pathlib import Path

import h5py
import numpy as np

PROVENANCE = {"hpcrbm_version", "git_revision", "ranks", "backend", "device", "writer", "h5py_version",
              "hdf5_version", "mpi_version", "numpy_version", "start_time", "end_time", "seconds", "stage_seconds",
              "created"}


def _datasets(h5):
    out = {}
    h5.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out


def _attrs(node):
    return {k: v for k, v in node.attrs.items() if k not in PROVENANCE}


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "SOU" or b.dtype.kind in "SOU":
        return a.shape == b.shape and [str(x) for x in a.astype(str).ravel()] == [str(x) for x in b.astype(str).ravel()]
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def compare_h5(a_path, b_path):
    diffs = []
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        da, db = _datasets(a), _datasets(b)
        for name in sorted(set(da) | set(db)):
            if name not in da or name not in db:
                diffs.append(f"{a_path.name}: /{name} only in {'A' if name in da else 'B'}")
            elif da[name].dtype != db[name].dtype and da[name].dtype.kind not in "SO":
                diffs.append(f"{a_path.name}: /{name} dtype {da[name].dtype} vs {db[name].dtype}")
            elif not _same(da[name][()], db[name][()]):
                diffs.append(f"{a_path.name}: /{name} values differ")
        for node in ["/"] + sorted(set(da) & set(db)):
            aa, ab = _attrs(a[node]), _attrs(b[node])
            for key in sorted(set(aa) | set(ab)):
                if key not in aa or key not in ab:
                    diffs.append(f"{a_path.name}: {node} attribute {key} only in {'A' if key in aa else 'B'}")
                elif key != "summary" and not _same(aa[key], ab[key]):
                    diffs.append(f"{a_path.name}: {node} attribute {key} differs")
    return diffs


def compare_json(a, b, where=""):
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) if k not in ("created", "run_time")
                for d in (compare_json(a.get(k), b.get(k), f"{where}.{k}") if k in a and k in b
                          else [f"summary.json{where}.{k} only in {'A' if k in a else 'B'}"])]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"summary.json{where}: {len(a)} vs {len(b)} entries"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in compare_json(x, y, f"{where}[{i}]")]
    same = a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)
    return [] if same else [f"summary.json{where}: {a!r} vs {b!r}"]


def main(a_dir, b_dir):
    a_dir, b_dir = Path(a_dir), Path(b_dir)
    diffs = []
    for path in sorted(a_dir.glob("*.h5")):
        other = b_dir / path.name
        diffs += compare_h5(path, other) if other.exists() else [f"{path.name}: only in A"]
    diffs += [f"{p.name}: only in B" for p in sorted(b_dir.glob("*.h5")) if not (a_dir / p.name).exists()]
    diffs += compare_json(json.loads((a_dir / "summary.json").read_text()),
                          json.loads((b_dir / "summary.json").read_text()))
    print("\n".join(diffs) if diffs else "identical")
    return 1 if diffs else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--fingerprints-aside" in args:
        args.remove("--fingerprints-aside")
        PROVENANCE.add("inputs")
    sys.exit(main(*args[:2]))
