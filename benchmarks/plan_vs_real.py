"""`hpcrbm plan` against real runs: the plan's time of every stage beside the run's run_time
(summary.json), for configs/demo.toml on 2 ranks and the README walkthrough's ising2d run (its
stages on one rank, rbm.epochs = 20), on this machine, in one go.

    .venv/bin/python benchmarks/plan_vs_real.py [--write]

With ``--write`` the table replaces the block between the markers in docs/benchmarks.md. The goal
(issue 25): every stage within a factor of 2.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
BEGIN, END = "<!-- plan vs real: begin -->", "<!-- plan vs real: end -->"
ENV = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
       "OMPI_MCA_rmaps_base_oversubscribe": "1"}
STAGES = ("simulate", "train", "thermometer", "flow", "analyze")
CASES = (("configs/demo.toml on 2 ranks", "configs/demo.toml", 2, []),
         ("configs/ising2d.toml, rbm.epochs = 20, 1 rank", "configs/ising2d.toml", 1, ["rbm.epochs=20"]))


def seconds(text):
    """Seconds of the plan's '34 s', '7.5 min', '1.2 h'."""
    value, unit = text.split()
    return float(value) * {"s": 1, "min": 60, "h": 3600}[unit]


def planned(config, ranks, sets):
    args = [PY, "-m", "hpcrbm", "plan", config, "--ranks", str(ranks)] + [a for s in sets for a in ("--set", s)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT, env=ENV).stdout
    times = {}
    for line in out.splitlines():
        m = re.match(r"  (\w+)\s+([\d.]+ (?:s|min|h))", line)
        if m and m.group(1) in STAGES:
            times[m.group(1)] = seconds(m.group(2))
    return times


def real(config, ranks, sets, out):
    args = ["mpiexec", "-n", str(ranks), PY, "-m", "hpcrbm", "run", config, "--out", str(out), "--quiet"]
    subprocess.run(args + [a for s in sets for a in ("--set", s)], check=True, cwd=ROOT, env=ENV)
    run_time = json.loads((out / "summary.json").read_text())["run_time"]
    return {stage: run_time[stage]["seconds"] for stage in STAGES}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the table in docs/benchmarks.md")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    lines = [f"{datetime.date.today()}, commit {commit}: `hpcrbm plan` (warm kernel cache) then the run, "
             "on this machine, one after the other.", "",
             "| run | stage | plan | real | plan / real |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, config, ranks, sets) in enumerate(CASES):
            plan = planned(config, ranks, sets)
            measured = real(config, ranks, sets, Path(tmp) / f"run{i}")
            for stage in STAGES:
                ratio = plan[stage] / measured[stage] if measured[stage] > 0 else float("nan")
                lines.append(f"| {name} | {stage} | {plan[stage]:.1f} s | {measured[stage]:.1f} s | {ratio:.2f} |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        from bench_all import write_between  # benchmarks/, this script's folder
        write_between(ROOT / "docs/benchmarks.md", BEGIN, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
