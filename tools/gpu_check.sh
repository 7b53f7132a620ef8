#!/usr/bin/env bash
# One short run on a GPU node: the GPU tests (Philox and every Metropolis kernel bit-identical to
# the CPU), then `hpcrbm bench mc --backend gpu` for the issue's shapes, printed as a table.
# Needs on the node: CuPy, numpy, numba, scipy, h5py, mpi4py, tqdm, pytest (carry missing wheels).
# Usage: bash tools/gpu_check.sh [OUTDIR]     (results also written to OUTDIR/gpu_check.md)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.}
PY=${PY:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$OUT"
{
  echo "# GPU check, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
  echo
  echo '```'
  timeout 300 "$PY" -m pytest -q -p no:cacheprovider tests/montecarlo/test_gpu_kernels.py tests/rng/test_philox.py 2>&1 | tail -n 15
  echo '```'
  echo
  echo "| model | L | replicas | T | flips/ns |"
  echo "|---|---|---|---|---|"
  for spec in "ising 2 32768 1 2.269" "ising 2 10 200000 2.269" "ising 2 1024 64 2.269" \
              "potts 3 16384 1 0.995" "clock 4 16384 1 1.1345"; do
    set -- $spec
    rate=$(timeout 120 "$PY" -m hpcrbm bench mc --backend gpu --model "$1" --q "$2" --L "$3" --replicas "$4" \
           --T "$5" --sweeps 50 --json 2>/dev/null | "$PY" -c 'import json,sys; print(f"{json.load(sys.stdin)[\"flips_per_ns\"]:.1f}")' 2>/dev/null)
    echo "| $1 q=$2 | $3 | $4 | $5 | ${rate:-failed} |"
  done
} | tee "$OUT/gpu_check.md"
