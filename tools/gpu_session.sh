#!/usr/bin/env bash
# Everything a short GPU-node session should run, most important first, within a time budget:
# 1. tools/gpu_check.sh: GPU tests (Monte Carlo bit identity with the CPU, the RBM's exact steps,
#    agreement and rank invariance) and the benchmark tables, RBM and Monte Carlo (~6 min);
# 2. the L = 10 study run configs/study/clock4.toml end to end on the GPU (one rank), its stage
#    times beside those of docs/study/clock4 (two CPU cores), target 10x (~1 to 2 min);
# 3. benchmarks/gpu_compact_tune.sh: the compact kernel's knobs (~1.5 min);
# 4. benchmarks/gpu_profile.sh: Nsight Compute on the compact kernel (~1 min), if ncu exists.
# A stage starts only if the budget left is above its typical duration.
# Usage: bash tools/gpu_session.sh OUTDIR [BUDGET_SECONDS (default 540)]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: tools/gpu_session.sh OUTDIR [BUDGET_SECONDS]}
BUDGET=${2:-540}
START=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
mkdir -p "$OUT"
bash tools/gpu_check.sh "$OUT"
if [ "$(left)" -gt 150 ]; then
  PYTHONPATH=$PWD HPCRBM_WRITER=root timeout $(( $(left) - 100 )) "${PY:-python3}" -m hpcrbm run configs/study/clock4.toml \
    --set "run.backend='gpu'" --set "run.out='$OUT/clock4_gpu'" --quiet > "$OUT/clock4.log" 2>&1
  "${PY:-python3}" - "$OUT/clock4_gpu/summary.json" docs/study/clock4/summary.json <<'PYEOF' | tee "$OUT/study.md"
import json, sys
try:
    gpu = json.load(open(sys.argv[1]))["run_time"]
except OSError:
    sys.exit("clock4 on the GPU did not finish (clock4.log)")
cpu = json.load(open(sys.argv[2]))["run_time"]
print("| stage | GPU s (1 rank) | CPU s (docs/study, 2 ranks) | ratio |")
print("|---|---|---|---|")
for stage in cpu:
    print(f"| {stage} | {gpu[stage]['seconds']:.0f} | {cpu[stage]['seconds']:.0f} | "
          f"{cpu[stage]['seconds'] / max(gpu[stage]['seconds'], 1):.1f} |")
total = [sum(t[s]["seconds"] for s in cpu) for t in (gpu, cpu)]
print(f"| all | {total[0]:.0f} | {total[1]:.0f} | {total[1] / max(total[0], 1):.1f} (target 10) |")
PYEOF
fi
[ "$(left)" -gt 120 ] && bash benchmarks/gpu_compact_tune.sh "$OUT" | tee "$OUT/tune.md"
[ "$(left)" -gt 90 ] && timeout $(( $(left) - 10 )) bash benchmarks/gpu_profile.sh "$OUT" compact
echo "gpu_session: $(( $(date +%s) - START )) s of $BUDGET; outputs in $OUT"
