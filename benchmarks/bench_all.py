"""`make bench`: every benchmark beside its reference, measured in the same run on the same
machine, as one table of ratios with a floor each; exits 1 when a ratio is below its floor.

- Monte Carlo: `hpcrbm bench mc` (a fresh process per run) beside the plain C reference
  (benchmarks/mc_reference.c, gcc -O3 -march=native) on one core: 2D Ising L = 1024, 1000 x
  10 x 10 (C: one 10 x 10 lattice), the ring N = 100000 (C: L = 1024); Potts q = 3 and clock
  q = 4 beside Ising at L = 1024.
- RBM: PCD-1 at N_v = 100, N_h = 64, batch 100 (the demo's shape) beside scikit-learn's
  BernoulliRBM on the same data (float32 both): hpcrbm on 1 rank (BLAS threads on every core, as
  scikit-learn's) and on 2 ranks (one core each), floors 3x and 5x; every side of every RBM pair
  in a process of its own (two BLAS libraries in one process slow each other: isolated_rate);
  the critique's shape (N_v = N_h = 100, CD-1, no biases, batch 100) beside the plain NumPy
  update of benchmarks/numpy_cd1.py, and L = 32 (N_v = 1024, N_h = 256) beside scikit-learn,
  floors 3x (issue 24's targets).
- Stages: `hpcrbm run configs/demo.toml` on 1 and on 2 ranks, each stage's wall time from
  summary.json's run_time (the analysis: `hpcrbm analyze` run again on the finished run); the
  speed-up is reported, with no floor (issue 15 sets none).

Every pair is measured alternately, ``--repeats`` times; the ratio is best over best. With
``--write``, the table replaces the block between the markers in docs/benchmarks.md.
Not part of `make test`: timing is not a test here. Needs scikit-learn (installed by `make bench`).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's hpcrbm, whatever the venv has installed
PY = sys.executable
BEGIN, END = "<!-- make bench: begin -->", "<!-- make bench: end -->"
MPIEXEC = ("mpiexec", "--oversubscribe")
MPI_ENV = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def write_between(doc, begin, end, text):
    """Replace the text between the markers ``begin`` and ``end`` of the file ``doc``."""
    body = doc.read_text()
    start, stop = body.index(begin) + len(begin), body.index(end)
    doc.write_text(body[:start] + "\n" + text + "\n" + body[stop:])


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def hpcrbm_mc(*args):
    out = subprocess.run([PY, "-m", "hpcrbm", "bench", "mc", "--backend", "cpu", "--json", *map(str, args)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out)["flips_per_ns"]


def c_mc(binary, L, sweeps):
    out = subprocess.run([str(binary), str(L), str(sweeps), "2.269"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["flips_per_ns"]


def best_pair(measure_a, measure_b, repeats):
    """(best of a, best of b, all a, all b), measured alternately."""
    a, b = [], []
    for _ in range(repeats):
        a.append(measure_a())
        b.append(measure_b())
    return max(a), max(b), a, b


def monte_carlo_rows(repeats, build):
    binary = build / "mc_reference"
    subprocess.run(["gcc", "-O3", "-march=native", "-o", str(binary), str(ROOT / "benchmarks/mc_reference.c"), "-lm"],
                   check=True)
    rows = []
    cases = [("Ising 2D L = 1024", ["--L", 1024, "--sweeps", 190, "--T", 2.269], ("C, L = 1024", 1024, 190)),
             ("Ising 2D 1000 x 10 x 10", ["--L", 10, "--replicas", 1000, "--sweeps", 200, "--T", 2.269],
              ("C, one 10 x 10 lattice", 10, 2_000_000)),
             ("Ising ring N = 100000", ["--dim", 1, "--L", 100000, "--sweeps", 2000, "--T", 2.269],
              ("C, 2D L = 1024", 1024, 190))]
    for name, args, (ref, L, sweeps) in cases:
        ours, theirs, a, b = best_pair(lambda args=args: hpcrbm_mc(*args),
                                       lambda L=L, sweeps=sweeps: c_mc(binary, L, sweeps), repeats)
        rows.append((name, ours, ref, theirs, 1.0, "flips/ns", a, b))
    ising = lambda: hpcrbm_mc("--L", 1024, "--sweeps", 100, "--T", 2.269)  # noqa: E731
    for name, args in (("Potts q = 3 L = 1024", ["--model", "potts", "--q", 3, "--T", 0.995]),
                       ("clock q = 4 L = 1024", ["--model", "clock", "--q", 4, "--T", 1.1345])):
        ours, theirs, a, b = best_pair(lambda args=args: hpcrbm_mc("--L", 1024, "--sweeps", 40, *args), ising, repeats)
        rows.append((name, ours, "hpcrbm Ising L = 1024", theirs, 0.8, "flips/ns", a, b))
    return rows


def rbm_rate(spec):
    """Samples per second of one RBM measurement ``spec`` (dict), in this process: ``side`` hpcrbm
    (bench_rbm), sklearn (BernoulliRBM, PCD-1) or numpy_cd1 (benchmarks/numpy_cd1.py), at ``L``
    (10 or 32), ``n_hidden``, ``epochs``; hpcrbm also ``method`` and ``biases``."""
    import numpy as np

    from hpcrbm.bench import bench_rbm, ising_training_data
    L, nh, epochs = spec["L"], spec["n_hidden"], spec["epochs"]
    data = ising_training_data() if L == 10 else ising_training_data(L, per_temperature=500)
    data = data.astype(np.float32)
    if spec["side"] == "hpcrbm":
        from hpcrbm.backend import select_backend
        from hpcrbm.parallel import Communicator
        return bench_rbm(Communicator(None), select_backend("cpu"), n_hidden=nh, epochs=epochs, data=data,
                         method=spec["method"], biases=spec["biases"])["samples_per_s"]
    if spec["side"] == "numpy_cd1":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import numpy_cd1
        return numpy_cd1.rate(data, nh, epochs)
    from sklearn.neural_network import BernoulliRBM
    BernoulliRBM(n_components=nh, learning_rate=0.01, batch_size=100, n_iter=1, random_state=0).fit(data[:1000])
    t0 = time.perf_counter()
    BernoulliRBM(n_components=nh, learning_rate=0.01, batch_size=100, n_iter=epochs, random_state=0).fit(data)
    return epochs * len(data) / (time.perf_counter() - t0)


def isolated_rate(**spec):
    """:func:`rbm_rate` in a fresh process: two libraries' BLAS threads in one process (numba's
    sgemm goes through SciPy's OpenBLAS, NumPy's through its own) spin on the same cores and slow
    whichever side runs next."""
    out = subprocess.run([PY, str(Path(__file__).resolve()), "--measure", json.dumps(spec)], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    return float(out.split()[-1])


def rbm_rows(repeats):
    """issue 24's rows, each side of each pair measured in its own process (:func:`isolated_rate`)."""
    def two_ranks():
        out = subprocess.run([*MPIEXEC, "-n", "2", PY, "-m", "hpcrbm", "bench", "rbm", "--json"], capture_output=True,
                             text=True, check=True, cwd=ROOT, env=MPI_ENV).stdout
        return json.loads(out)["samples_per_s"]

    demo = {"L": 10, "n_hidden": 64, "epochs": 3}
    one_rank = lambda: isolated_rate(side="hpcrbm", method="pcd", biases=True, **demo)  # noqa: E731
    sklearn = lambda: isolated_rate(side="sklearn", **demo)  # noqa: E731
    rows = []
    for name, ours, floor in (("1 rank", one_rank, 3.0), ("2 ranks", two_ranks, 5.0)):
        best, theirs, a, b = best_pair(ours, sklearn, repeats)
        rows.append((f"RBM PCD-1 100 x 64, batch 100, {name}", best, "scikit-learn BernoulliRBM", theirs, floor,
                     "samples/s", a, b))
    # the critique's shape (Nv = Nh = 100, CD-1, no biases) beside the plain NumPy update of the same
    critique = {"L": 10, "n_hidden": 100, "epochs": 3}
    best, theirs, a, b = best_pair(lambda: isolated_rate(side="hpcrbm", method="cd", biases=False, **critique),
                                   lambda: isolated_rate(side="numpy_cd1", **critique), repeats)
    rows.append(("RBM CD-1 100 x 100, no biases, batch 100, 1 rank", best, "plain NumPy CD-1 (benchmarks/numpy_cd1.py)",
                 theirs, 3.0, "samples/s", a, b))
    # a physicist's larger lattice: L = 32 (Nv = 1024), Nh = 256
    large = {"L": 32, "n_hidden": 256, "epochs": 1}
    best, theirs, a, b = best_pair(lambda: isolated_rate(side="hpcrbm", method="pcd", biases=True, **large),
                                   lambda: isolated_rate(side="sklearn", **large), repeats)
    rows.append(("RBM PCD-1 1024 x 256 (L = 32), batch 100, 1 rank", best, "scikit-learn BernoulliRBM", theirs, 3.0,
                 "samples/s", a, b))
    return rows


def stage_rows(build):
    """Wall time of each stage of configs/demo.toml on 1 and on 2 ranks (summary.json run_time;
    the analysis stage, which writes summary.json, run again by itself on the finished run)."""
    times = {}
    for ranks in (1, 2):
        out = build / f"demo{ranks}"
        mpiexec = [*MPIEXEC, "-n", str(ranks), PY, "-m", "hpcrbm"]
        t0 = time.perf_counter()
        subprocess.run([*mpiexec, "run", "configs/demo.toml", "--out", str(out), "--quiet"], check=True, cwd=ROOT,
                       capture_output=True, env=MPI_ENV)
        total = time.perf_counter() - t0
        run_time = json.loads((out / "summary.json").read_text())["run_time"]
        times[ranks] = {stage: v["seconds"] for stage, v in run_time.items()}
        (out / "analysis.h5").unlink()
        t0 = time.perf_counter()
        subprocess.run([*mpiexec, "analyze", str(out), "--quiet"], check=True, cwd=ROOT, capture_output=True,
                       env=MPI_ENV)
        times[ranks].update({"analyze": time.perf_counter() - t0, "hpcrbm run (total)": total})
    return [(f"stage {stage}, configs/demo.toml", times[1][stage] / max(times[2][stage], 1e-9), "1 rank -> 2 ranks",
             1.0, None, "speed-up", [times[1][stage]], [times[2][stage]]) for stage in times[1]]


def table(rows, commit):
    lines = [f"{time.strftime('%Y-%m-%d')}, commit {commit}, {cpu_name()} ({os.cpu_count()} cores), one core for "
             "the kernels; best of the repeats, each pair measured alternately.", "",
             "| benchmark | hpcrbm | reference | reference value | ratio | floor |", "|---|---|---|---|---|---|"]
    failed = []
    for name, ours, ref, theirs, floor, unit, a, b in rows:
        if unit == "speed-up":
            lines.append(f"| {name} | {a[0]:.0f} s -> {b[0]:.0f} s | {ref} | | {ours:.2f} | none |")
            continue
        ratio = ours / theirs
        mark = "" if ratio >= floor else " **below**"
        if ratio < floor:
            failed.append(name)
        lines.append(f"| {name} | {ours:.4g} {unit} | {ref} | {theirs:.4g} | {ratio:.2f}{mark} | {floor} |")
    return "\n".join(lines), failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-stages", action="store_true", help="leave out the 1 vs 2 rank runs (minutes)")
    parser.add_argument("--write", action="store_true", help="put the table into docs/benchmarks.md")
    parser.add_argument("--measure", help="internal: one RBM measurement (JSON spec), its rate printed")
    args = parser.parse_args()
    if args.measure:
        print(rbm_rate(json.loads(args.measure)))
        return 0
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        build = Path(tmp)
        rows = monte_carlo_rows(args.repeats, build) + rbm_rows(args.repeats)
        if not args.skip_stages:
            rows += stage_rows(build)
    text, failed = table(rows, commit)
    print(text)
    if args.write:
        write_between(ROOT / "docs/benchmarks.md", BEGIN, END, text)
    if failed:
        print(f"below the floor: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
