"""``import hpcrbm`` changes nothing outside the package; the command line sizes BLAS's threads
under an MPI launcher before NumPy loads; compiled kernels are cached by the kernel sources."""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
LOCAL_RANKS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE")


def python(code, env, script=None):
    """Run ``code`` in a fresh interpreter (``python -c``, or from the file ``script``); its last
    stdout line parsed as JSON."""
    if script is None:
        argv = ["-c", textwrap.dedent(code)]
    else:
        script.write_text(textwrap.dedent(code))
        argv = [str(script)]
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def env(tmp_path):
    """The environment of a program under mpiexec (one rank on this node) that set no thread count
    and no numba cache directory; caches under tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in THREADS + LOCAL_RANKS and not k.startswith("NUMBA_")}
    env.update(OMPI_COMM_WORLD_LOCAL_SIZE="1", XDG_CACHE_HOME=str(tmp_path / "cache"))
    return env


def test_import_leaves_environment_alone(env):
    result = python("""
        import json, os, sys
        before = dict(os.environ)
        import hpcrbm
        print(json.dumps({"same": dict(os.environ) == before, "numpy": "numpy" in sys.modules}))
        """, env)
    assert result == {"same": True, "numpy": False}


def test_kernel_modules_leave_environment_and_other_caches_alone(env, tmp_path):
    result = python("""
        import json, os
        before = dict(os.environ)
        import numba
        import hpcrbm
        from hpcrbm.montecarlo.kernels import cluster_cpu, ising_cpu, qstate_cpu
        from hpcrbm.rbm.kernels import training_cpu
        from hpcrbm.rng import philox, uniform

        @numba.njit(cache=True)
        def not_ours(x):
            return x
        print(json.dumps({"same": dict(os.environ) == before, "config": numba.config.CACHE_DIR,
                          "ours": uniform._fill_uniforms._cache._cache_path,
                          "expected": str(hpcrbm.kernel_cache_dir()), "theirs": not_ours._cache._cache_path}))
        """, env, script=tmp_path / "theirs.py")
    assert result["same"] and result["config"] == ""
    assert result["expected"].startswith(str(tmp_path / "cache" / "hpcrbm" / "numba"))
    assert result["ours"].startswith(result["expected"] + os.sep)
    assert result["theirs"] == str(tmp_path / "__pycache__")  # numba's default, beside the file


def test_kernel_cache_dir_follows_every_kernel_source():
    """numba checks only the file holding a function, not those it inlines from: the directory's
    digest must cover every file that compiles numba functions."""
    import hpcrbm
    sources = [p.relative_to(ROOT / "hpcrbm").as_posix() for p in (ROOT / "hpcrbm").rglob("*.py")
               if re.search(r"\b(numba\.)?(njit|jit|vectorize|guvectorize|cfunc)\(", p.read_text())]
    assert "rng/philox.py" in sources
    for source in sources:
        assert any(Path(source).match(pattern) for pattern in hpcrbm._KERNEL_SOURCES), source


def test_user_numba_cache_dir_wins(env, tmp_path):
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    result = python("""
        import json
        from hpcrbm.rng import uniform
        print(json.dumps(uniform._fill_uniforms._cache._cache_path))
        """, env)
    assert result.startswith(str(tmp_path / "mine") + os.sep)


PROBE = """
    import json, os, runpy, sys
    from hpcrbm import cli
    seen = {}
    set_blas_threads = cli.set_blas_threads

    def probe():
        seen["numpy_loaded_first"] = "numpy" in sys.modules
        set_blas_threads()
    cli.set_blas_threads = probe
    sys.argv = ["hpcrbm", "--version"]
    try:
        %s
    except SystemExit:
        pass
    print(json.dumps({**seen, **{name: os.environ.get(name) for name in %r}}))
    """


@pytest.mark.parametrize("entry", ["cli.main()", "runpy.run_module('hpcrbm', run_name='__main__')"],
                         ids=["console_script", "python_-m"])
def test_cli_sets_blas_threads_before_numpy(env, entry):
    result = python(PROBE % (entry, THREADS), env)
    threads = str(len(os.sched_getaffinity(0)))
    assert result == {"numpy_loaded_first": False, **dict.fromkeys(THREADS, threads)}


def test_cli_blas_threads_share_and_user_setting(env):
    env["OMPI_COMM_WORLD_LOCAL_SIZE"] = "2"
    code = f"""
        import json, os
        from hpcrbm.cli import set_blas_threads
        set_blas_threads()
        print(json.dumps([os.environ.get(name) for name in {THREADS!r}]))
        """
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    assert python(code, env) == [share] * 3
    env["OMP_NUM_THREADS"] = "7"
    assert python(code, env) == [None, "7", None]


@pytest.mark.parametrize("damage", ["garbled", "truncated"])
def test_a_damaged_kernel_cache_file_is_dropped_and_compiled_again(env, damage):
    """A damaged index or data file of hpcrbm's numba cache (numba raises while unpickling it, on
    every run) gives one WARNING line and the kernel compiles again; the next run loads it."""
    code = """
        import json, logging
        logging.basicConfig()
        import numpy as np
        from hpcrbm.rng import uniform
        out = np.zeros((2, 8), np.float32)
        uniform._fill_uniforms(out, np.arange(2, dtype=np.uint64), 0, 0, 1, 2, 0)
        print(json.dumps({"sum": float(out.sum()), "hits": len(uniform._fill_uniforms.stats.cache_hits)}))
        """

    def run():
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr

    first, _ = run()
    cached = [p for p in Path(env["XDG_CACHE_HOME"]).rglob("*fill_uniforms*") if p.suffix in (".nbi", ".nbc")]
    assert {p.suffix for p in cached} == {".nbi", ".nbc"}
    for path in cached:
        data = path.read_bytes()
        path.write_bytes(b"\x80\x04garbage" * 10 if damage == "garbled" else data[:len(data) // 2])
    second, err = run()
    assert second["sum"] == first["sum"] and "damaged numba cache of _fill_uniforms" in err, err
    third, err = run()
    assert third == {**first, "hits": 1} and "damaged" not in err, err
