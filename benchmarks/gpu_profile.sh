#!/usr/bin/env bash
# Nsight Compute profile of the GPU Metropolis kernels (one launch of each), for finding what
# bounds them (docs/gpu.md, "Where the time goes"): speed of light, pipe utilisation, warp stall
# reasons, instruction mix. Needs ncu on the node (Firecracker machines of this workplace have it).
# Usage: bash benchmarks/gpu_profile.sh [OUTDIR [LABEL ...]]   (labels: compact lanes qstate; default all)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.}
shift || true
LABELS=("$@")
[ ${#LABELS[@]} -gt 0 ] || LABELS=(compact lanes qstate)
PY=${PY:-python3}
NCU=${NCU:-$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -n 1)}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
profile() {  # kernel-name label bench-arguments...
  local kernel=$1 label=$2
  shift 2
  [[ " ${LABELS[*]} " == *" $label "* ]] || return 0
  timeout 300 "$NCU" --clock-control none --kernel-name "$kernel" --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
    --section WarpStateStats --section InstructionStats --section Occupancy \
    "$PY" -m hpcrbm bench mc --backend gpu --sweeps 3 "$@" > "$OUT/ncu_$label.txt" 2>&1
  echo "== $label ($kernel): $OUT/ncu_$label.txt"
  grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|Issue Slots Busy|Executed Ipc|Achieved Occupancy|Registers Per Thread|Stall" "$OUT/ncu_$label.txt" | head -n 20
}
profile ising2d_compact_half_sweep compact --L 16384
profile ising_lanes_shared lanes --L 10 --replicas 100000
profile qstate_half_sweep qstate --model potts --q 3 --L 8192
