#!/usr/bin/env bash
# One short run on a GPU node: the GPU tests (Philox and the device uniforms, every Metropolis
# launch shape and the whole simulate stage bit-identical to the CPU; the RBM's exact steps equal to
# the CPU's, its training within the seeds' spread of the CPU's, GPU runs on 1 and 2 ranks
# identical; the memory plan), then `hpcrbm bench rbm --backend gpu` beside the device's matrix-
# product rates and the 2-core CPU trainer, and `hpcrbm bench mc --backend gpu` for the issue's
# shapes, printed as Markdown tables for docs/benchmarks.md (compact-kernel knobs:
# benchmarks/gpu_compact_tune.sh). Nothing is installed: the node needs
# CuPy, numpy, numba, scipy, h5py (serial is enough), mpi4py, tqdm and pytest.
# Usage: bash tools/gpu_check.sh [OUTDIR]   (writes OUTDIR/gpu_check.md, OUTDIR/bench.jsonl, logs)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.}
PY=${PY:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HPCRBM_WRITER=root
mkdir -p "$OUT"
: > "$OUT/bench.jsonl"
bench() {  # model q dim L replicas T sweeps path [compile-time defines, see kernels/gpu.py]
  HPCRBM_GPU_DEFINES=${9:-} timeout 240 "$PY" -m hpcrbm bench mc --backend gpu --model "$1" --q "$2" --dim "$3" --L "$4" --replicas "$5" \
    --T "$6" --sweeps "$7" --path "$8" --json 2>>"$OUT/bench.err" | tail -n 1 | tee -a "$OUT/bench.jsonl" >/dev/null
}
{
  echo "# GPU check, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null
  "$PY" -c 'import sys, numpy, cupy, numba, h5py; print("python", sys.version.split()[0], "numpy", numpy.__version__,
"cupy", cupy.__version__, "numba", numba.__version__, "h5py", h5py.__version__, "mpi" if h5py.get_config().mpi else "serial")'
  echo
  echo '```'
  timeout 900 "$PY" -m pytest -q -p no:cacheprovider -rs tests/montecarlo/test_gpu_kernels.py tests/rng/test_philox.py \
    tests/rbm/test_gpu_training.py tests/test_edges.py -k "gpu or philox or uniforms" 2>&1 | tail -n 25
  echo '```'
  echo
  # RBM PCD-1: the issue's large shape (float32 matrix-product rate measured in the same run) and the
  # papers' shape beside the CPU trainer on two cores of this node
  : > "$OUT/rbm.jsonl"
  for spec in "32 1024 1024 gpu 2" "10 64 100 gpu 3" "10 64 100 cpu 3"; do
    set -- $spec
    pin=""; [ "$4" = cpu ] && pin="taskset -c 0,1"
    OMP_NUM_THREADS=2 timeout 300 $pin "$PY" -m hpcrbm bench rbm --backend "$4" --L "$1" --hidden "$2" \
      --batch-size "$3" --epochs "$5" --json 2>>"$OUT/bench.err" | tail -n 1 >> "$OUT/rbm.jsonl"
  done
  "$PY" - "$OUT/rbm.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("| Nv | Nh | batch | backend | samples/s | product TFLOP/s | float32 matmul TFLOP/s | float64 matmul TFLOP/s | fraction |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    t = lambda k: f"{r[k] / 1e12:.1f}" if k in r else "-"
    f = f"{r['fraction_of_float32_matmul']:.0%}" if "fraction_of_float32_matmul" in r else "-"
    print(f"| {r['n_visible']} | {r['n_hidden']} | {r['batch_size']} | {r['backend']} | {r['samples_per_s']:,.0f} | "
          f"{t('product_flops')} | {t('matmul_float32_flops')} | {t('matmul_float64_flops')} | {f} |")
small = {r["backend"]: r["samples_per_s"] for r in rows if r["n_visible"] == 100}
if len(small) == 2:
    print(f"\npapers' shape: GPU / 2-core CPU = {small['gpu'] / small['cpu']:.1f}x (target 20x)")
PYEOF
  echo
  # sweeps chosen for about 2e9 to 1e10 flips each (a few seconds to 15 s at the expected rates)
  for spec in "ising 2 2 32768 1 2.269 10 auto" "ising 2 2 32768 1 2.269 2 global" \
              "ising 2 2 10 200000 2.269 300 auto" "ising 2 2 10 200000 2.269 100 shared" \
              "ising 2 2 32 20000 2.269 200 auto" "ising 2 2 1024 64 2.269 50 auto" \
              "ising 2 1 1000 20000 1.0 250 auto" \
              "potts 3 2 16384 1 0.995 5 auto" "clock 4 2 16384 1 1.1345 5 auto" \
              "potts 3 2 10 200000 0.995 50 auto" "clock 4 2 10 200000 1.1345 50 auto" \
              "ising 2 2 65536 1 2.269 3 auto"; do
    bench $spec
  done
  "$PY" - "$OUT/bench.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("| model | dim | L | lattices | T | path | defines | sweeps | flips/ns | copy GB/s | int8 ceiling flips/ns |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    name = r["model"] + (f" q={r['q']}" if r["model"] != "ising" else "")
    print(f"| {name} | {r['dim']} | {r['L']} | {r['replicas']} | {r['temperature']} | {r['path']} | {r['defines']} | {r['sweeps']} "
          f"| {r['flips_per_ns']:.1f} | {r['copy_bytes_per_ns']:.0f} | {r['int8_ceiling_flips_per_ns']:.0f} |")
print(f"\n{len(rows)} benchmarks ran; errors (if any) in bench.err")
PYEOF
} 2>&1 | tee "$OUT/gpu_check.md"
