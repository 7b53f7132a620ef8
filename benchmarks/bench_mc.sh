#!/usr/bin/env bash
# Monte Carlo throughput: `hpcrbm bench mc` beside the plain C reference, measured in the same
# run on the same core. Prints a Markdown row for docs/benchmarks.md.
# Usage: benchmarks/bench_mc.sh [L] [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
L=${1:-1024}
REPEATS=${2:-3}
PY=${PY:-.venv/bin/python}
BUILD=$(mktemp -d)
trap 'rm -rf "$BUILD"' EXIT
CC=${CC:-gcc}
$CC -O3 -march=native -o "$BUILD/mc_reference" benchmarks/mc_reference.c -lm
SWEEPS=$(( 200000000 / (L * L) > 5 ? 200000000 / (L * L) : 5 ))

best() { sort -g | tail -n 1; }
c_rates=(); py_rates=()
for _ in $(seq "$REPEATS"); do
  c_rates+=("$("$BUILD/mc_reference" "$L" "$SWEEPS" 2.269 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["flips_per_ns"])')")
  py_rates+=("$("$PY" -m hpcrbm bench mc --L "$L" --sweeps "$SWEEPS" --T 2.269 --backend cpu --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["flips_per_ns"])')")
done
c_best=$(printf '%s\n' "${c_rates[@]}" | best)
py_best=$(printf '%s\n' "${py_rates[@]}" | best)
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
ratio=$("$PY" -c "print(f'{$py_best / $c_best:.2f}')")
py_best=$("$PY" -c "print(f'{$py_best:.3f}')")
c_best=$("$PY" -c "print(f'{$c_best:.3f}')")
echo "| $(date -u +%Y-%m-%d) | $commit | ${cpu:-unknown} ($(nproc) cores), 1 core | Ising 2D L=$L, T=2.269, $SWEEPS sweeps | $py_best | $c_best | $ratio |"
echo "(best of $REPEATS; hpcrbm: ${py_rates[*]}; C: ${c_rates[*]})" >&2
