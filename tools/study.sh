#!/bin/bash
# The reproduction study end to end: every run of docs/results.md, then its summaries and figures
# copied into docs/study/ and the report regenerated. `make study` (RANKS=2 by default); a run
# that is complete is skipped (hpcrbm's fingerprints), a killed one resumes. Run times on 2 CPU
# cores are in the report, per run. `tools/study.sh --collect` only copies and reports.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RANKS=${RANKS:-2}
MPIEXEC=${MPIEXEC:-mpiexec --oversubscribe}
run() { $MPIEXEC -n "$RANKS" "$PY" -m hpcrbm run "$@" --quiet; }
if [ "${1:-}" != --collect ]; then
  run configs/demo.toml --set run.out=runs/study/demo --set rbm.seeds=3
  for name in ising_epochs ising_field critique potts2 potts3 potts4 clock4 exponent; do
    run "configs/study/$name.toml"
  done
  for campaign in training lsize trainset; do
    $MPIEXEC -n "$RANKS" "$PY" -m hpcrbm campaign run "configs/study/$campaign.toml" --quiet
  done
fi
for src in runs/study/{demo,ising_epochs,ising_field,critique,potts2,potts3,potts4,clock4,exponent} \
           runs/study/{training,lsize,trainset}/*/; do
  src=${src%/}
  name=${src#runs/study/}
  dst=docs/study/${name//\//_}
  rm -rf "$dst" && mkdir -p "$dst"
  cp "$src/summary.json" "$dst/" && cp -r "$src/figures" "$dst/"
done
# every summary under docs/study, in name order: what tests/test_report.py regenerates
"$PY" -m hpcrbm report docs/study/*/ --out docs/results.md
