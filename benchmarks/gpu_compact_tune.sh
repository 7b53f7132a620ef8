#!/usr/bin/env bash
# Compile-time knobs of the compact 2D Ising kernel (kernels/gpu.py TUNED) on one GPU: each variant
# of HPCRBM_GPU_DEFINES is benchmarked at L = 32768, T = 2.269; the best goes into TUNED (its
# results are checked by tests/montecarlo/test_gpu_kernels.py::test_compact_knobs_keep_results).
# Usage: bash benchmarks/gpu_compact_tune.sh [OUTDIR] [VARIANT ...]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.}
shift || true
PY=${PY:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=("" "COMPACT_ROWS=8" "COMPACT_ROWS=32" "COMPACT_MIN_BLOCKS=3" "COMPACT_UNROLL=2,COMPACT_MIN_BLOCKS=3")
mkdir -p "$OUT"
for v in "${VARIANTS[@]}"; do
  HPCRBM_GPU_DEFINES=$v timeout 120 "$PY" -m hpcrbm bench mc --backend gpu --L 32768 --T 2.269 --sweeps 10 --json \
    2>>"$OUT/tune.err" | tail -n 1 >> "$OUT/tune.jsonl"
done
"$PY" - "$OUT/tune.jsonl" <<'PYEOF'
import json, sys
print("| defines | flips/ns | copy GB/s |\n|---|---|---|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"| {r['defines']} | {r['flips_per_ns']:.1f} | {r['copy_bytes_per_ns']:.0f} |")
PYEOF
