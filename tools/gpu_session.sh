#!/usr/bin/env bash
# Everything a short GPU-node session should run, most important first, within a time budget:
# 1. tools/gpu_check.sh: GPU tests (bit identity with the CPU) and the benchmark table (~5 min);
# 2. benchmarks/gpu_compact_tune.sh: the compact kernel's knobs (~1.5 min);
# 3. benchmarks/gpu_profile.sh: Nsight Compute on the compact kernel (~1 min), if ncu exists.
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
[ "$(left)" -gt 120 ] && bash benchmarks/gpu_compact_tune.sh "$OUT" | tee "$OUT/tune.md"
[ "$(left)" -gt 90 ] && timeout $(( $(left) - 10 )) bash benchmarks/gpu_profile.sh "$OUT" compact
echo "gpu_session: $(( $(date +%s) - START )) s of $BUDGET; outputs in $OUT"
