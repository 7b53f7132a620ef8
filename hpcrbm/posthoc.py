"""Post-hoc tools that need only the files of finished runs: merge summaries into one CSV table,
export Monte Carlo observables to CSV, redraw every figure."""
import csv
from pathlib import Path

import h5py

from .errors import InputError
from .io import files
from .io.hdf5 import replaced_on_success
from .io.summary import Summary

THERMOMETERS = files.THERMOMETERS
MERGE_COLUMNS = ("run", "model", "L", "q", "nh", "control", "field", "mode",
                 *(f"{c}_{t}" for t in THERMOMETERS for c in ("verdict", "T", "T_err", "attractors")),
                 "tc", "specific_heat_peak")


def merge(run_dirs, out_csv):
    """One row per (run, RBM or control, field, mode) of every run's summary.json; per thermometer
    the verdict, T and its error where it is a fixed point (empty otherwise), and the attractors
    as "T1;T2;..." (the branches' mean end temperatures)."""
    rows = []
    for run_dir in run_dirs:
        s = Summary.read(run_dir)
        for entry in s.flows + (s.controls or []):
            fp = entry["fixed_point"]
            row = {"run": str(run_dir), "model": s.model, "L": s.L, "q": s.q, "nh": entry.get("nh", ""),
                   "control": entry.get("control", ""), "field": entry["field"], "mode": entry["mode"], "tc": s.tc,
                   "specific_heat_peak": entry.get("specific_heat_peak", {}).get("T", "")}
            for label in THERMOMETERS:
                r = fp[label]
                row.update({f"verdict_{label}": r["verdict"], f"T_{label}": "" if r["T"] is None else r["T"],
                            f"T_err_{label}": "" if r["err"] is None else r["err"],
                            f"attractors_{label}": ";".join(f"{b['T']:.6g}" for b in r["branches"])})
            rows.append(row)
    _write_csv(out_csv, MERGE_COLUMNS, rows)
    return len(rows)


def export(run_dir, out_csv):
    """samples.h5's per-point summary: T, H, each observable with its error, tau_int."""
    path = Path(run_dir) / files.SAMPLES
    try:
        data = files.read_samples_summary(path)
    except (OSError, KeyError):
        raise InputError(f"{path}: missing or not a complete samples file") from None
    T, H = data.pop("temperatures"), data.pop("fields")
    columns = ("temperature", "field") + tuple(data)
    rows = [{"temperature": T[i], "field": H[j], **{k: v[i, j] for k, v in data.items()}}
            for i in range(len(T)) for j in range(len(H))]
    _write_csv(out_csv, columns, rows)
    return len(rows)


def redraw(run_dir, comm):
    """Every figure of a finished run, from samples.h5, flow.h5 and analysis.h5 alone (its summary
    and the digest of its fingerprint, which the figures carry)."""
    from .analysis.figures import draw_all
    from .pipeline import run_config
    from .protocol.stage import digest
    from .stages import stage_named
    run_dir = Path(run_dir)
    cfg = run_config(run_dir, stage_named("analyze"))
    analysis = run_dir / files.ANALYSIS
    try:
        with h5py.File(analysis, "r") as h5:
            text, inputs = str(h5.attrs["summary"]), str(h5.attrs["inputs"])
    except (OSError, KeyError):
        raise InputError(f"{analysis}: missing or incomplete; run hpcrbm analyze {run_dir}") from None
    summary = Summary.from_json(text, analysis)
    mc = files.read_samples_summary(run_dir / files.SAMPLES)
    try:
        with h5py.File(run_dir / files.FLOW, "r") as flows:
            return draw_all(run_dir, cfg, mc, flows, summary, comm, digest(inputs))
    except OSError:
        raise InputError(f"{run_dir / files.FLOW}: missing; run hpcrbm flow first") from None


def _write_csv(path, columns, rows):
    with replaced_on_success(path, ".tmp") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
