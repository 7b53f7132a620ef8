"""CUDA kernels: every .cu source compiles with nvcc (CPU machines with nvcc, as in CI), and on
a GPU every launch shape reproduces the CPU kernels bit for bit, for batches of several grid
points. GPU tests skip cleanly without CuPy or a device."""
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from hpcrbm.backend.cuda import cuda_source
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.kernels.gpu import choose_path, from_planes, to_planes
from hpcrbm.montecarlo.qstate import QStateModel
from hpcrbm.rng.philox import philox4x32_numpy

from ..conftest import run_hpcrbm

ENTRIES = ("philox_words", "ising_half_sweep", "qstate_half_sweep", "ising_sweeps_shared", "qstate_sweeps_shared",
           "ising2d_compact_half_sweep", "ising2d_planes", "ising_lanes_shared", "stream_uniforms_f32",
           "stream_uniforms_f64")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_kernels_compile_with_nvcc_without_local_memory(tmp_path):
    source = tmp_path / "hpcrbm_kernels.cu"
    source.write_text(cuda_source())
    result = subprocess.run(["nvcc", "-cubin", "-arch=sm_90", "--std=c++14", "-Xptxas", "-v", str(source),
                             "-o", str(tmp_path / "k.cubin")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = result.stderr
    for name in ENTRIES:
        assert f"Compiling entry function '{name}'" in report, name
    assert report.count("0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads") == len(ENTRIES), report


def test_colour_planes_follow_the_class_numbering():
    """planes[b, c].ravel()[k] is the down bit of site k of colour class c (docs/rng.md), and the
    round trip is exact."""
    spins = IsingModel(2, 8).initial_state(3, 0, 3, "random")
    planes = to_planes(np, spins)
    assert planes.shape == (3, 2, 8, 4)
    for colour in (0, 1):
        for k in range(32):
            y, i = divmod(k, 4)
            assert np.array_equal(planes[:, colour].reshape(3, -1)[:, k], spins[:, y, (y + colour) % 2 + 2 * i] < 0)
    assert np.array_equal(from_planes(planes, np.zeros_like(spins)), spins)


@pytest.mark.parametrize("defines", ["COMPACT_UNROLL=0", "COMPACT_ROWS=3", "ROWS=8", "COMPACT_ROWS=x"])
def test_bad_knobs_are_input_errors(monkeypatch, defines):
    from hpcrbm.backend.cuda import tuning
    from hpcrbm.errors import InputError
    monkeypatch.setenv("HPCRBM_GPU_DEFINES", defines)
    with pytest.raises(InputError, match="HPCRBM_GPU_DEFINES"):
        tuning()


def test_launch_shapes():
    assert choose_path(IsingModel(2, 10)) == "lanes"
    assert choose_path(IsingModel(1, 1500)) == "lanes"
    assert choose_path(IsingModel(1, 3000)) == "shared"
    assert choose_path(IsingModel(2, 64)) == "compact"
    assert choose_path(IsingModel(2, 100)) == "shared"
    assert choose_path(QStateModel("potts", 2, 200, 3)) == "shared"
    assert choose_path(IsingModel(2, 32768)) == "compact"
    assert choose_path(IsingModel(2, 250)) == "global"
    assert choose_path(QStateModel("clock", 2, 16384, 4)) == "global"
    assert choose_path(IsingModel(1, 100001)) == "global"


def gpu_available():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001
        return False


gpu = pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA device")


@gpu
def test_philox_on_gpu_equals_cpu():
    import cupy

    from hpcrbm.backend.cuda import module
    from hpcrbm.rng.philox import philox_key
    out = cupy.zeros(4 * 1000, dtype=cupy.uint32)
    module().get_function("philox_words")((4,), (256,), (out, np.int32(1000), np.uint32(7), np.uint32(3),
                                                          np.uint32(5 * 256 + 1), philox_key(11 + (13 << 32))))
    b = np.arange(1000)
    expected = np.stack(philox4x32_numpy(b, 7, 3, 5 * 256 + 1, 11, 13), axis=1).reshape(-1)
    assert np.array_equal(cupy.asnumpy(out), expected)


def batch_on_cpu(model, spins, tables, seed, points, sweep_start, n_sweeps):
    """The CPU kernels point by point: the reference for a GPU batch (point-major lattices)."""
    out = spins.copy().reshape((len(points), -1) + spins.shape[1:])
    for li, point in enumerate(points):
        model.sweep(out[li], tables[li], seed, point, sweep_start, n_sweeps)
    return out.reshape(spins.shape)


MODELS = [(IsingModel(2, 16), ("lanes", "shared", "global")), (IsingModel(2, 10), ("lanes", "shared", "global")),
          (IsingModel(2, 38), ("lanes", "shared")), (IsingModel(2, 54), ("shared",)),
          (IsingModel(2, 64), ("shared", "compact", "global")), (IsingModel(1, 17), ("lanes", "shared", "global")),
          (IsingModel(1, 64), ("lanes", "shared", "global")), (QStateModel("potts", 2, 12, 3), ("shared", "global")),
          (QStateModel("clock", 2, 16, 4), ("shared", "global")), (QStateModel("potts", 1, 9, 3), ("shared", "global")),
          (QStateModel("clock", 1, 20, 6), ("shared", "global")), (IsingModel(2, 256), ("auto",)),
          (IsingModel(2, 250), ("auto",)), (QStateModel("potts", 2, 256, 3), ("auto",))]


@gpu
@pytest.mark.parametrize("model,paths", MODELS, ids=lambda m: f"{getattr(m, 'kind', 'ising')}-{m.dim}d-L{m.L}"
                         if not isinstance(m, tuple) else "-".join(m))
def test_gpu_equals_cpu_bit_for_bit(model, paths):
    """Three grid points (different T and h) x R replicas in one batch, every launch shape
    (R = 5, or 42 for lattices of at most 100 sites: groups of 16 lattices and quarters of 4
    straddle points, so the lanes kernel takes both its acceptance paths)."""
    import cupy

    from hpcrbm.montecarlo.kernels.gpu import metropolis_gpu
    seed, points = 2**36 + 5, [7, 2, 11]
    replicas = 42 if model.n_sites <= 100 else 5
    spins = np.concatenate([model.initial_state(seed, p, replicas, "random") for p in points])
    tables = np.stack([model.thresholds(T, h) for T, h in ((1.3, 0.1), (2.2, 0.0), (4.0, -0.3))])
    sweeps = 3 if model.n_sites > 10000 else 20
    cpu = batch_on_cpu(model, spins, tables, seed, points, 3, sweeps)
    assert not np.array_equal(cpu, spins)
    for path in paths:
        device = cupy.asarray(spins)
        metropolis_gpu(model, device, tables, seed, points, 3, sweeps, path)
        assert np.array_equal(cupy.asnumpy(device), cpu), path


@gpu
@pytest.mark.parametrize("defines", ["COMPACT_ROWS=4", "COMPACT_ROWS=8", "COMPACT_ROWS=32,COMPACT_MIN_BLOCKS=2",
                                     "COMPACT_UNROLL=2,COMPACT_MIN_BLOCKS=3"])
def test_compact_knobs_keep_results(monkeypatch, defines):
    """The benchmark knobs change the work split, never the results."""
    import cupy

    from hpcrbm.montecarlo.kernels.gpu import metropolis_gpu
    model, seed = IsingModel(2, 64), 9
    spins = model.initial_state(seed, 0, 2, "random")
    tables = model.thresholds(2.269, 0.05)[None]
    cpu = batch_on_cpu(model, spins, tables, seed, [4], 0, 5)
    monkeypatch.setenv("HPCRBM_GPU_DEFINES", defines)
    device = cupy.asarray(spins)
    metropolis_gpu(model, device, tables, seed, [4], 0, 5, "compact")
    assert np.array_equal(cupy.asnumpy(device), cpu)


@gpu
def test_planes_kernel_equals_numpy():
    import cupy

    from hpcrbm.backend.cuda import CupyRunner
    from hpcrbm.montecarlo.kernels.gpu import from_planes, to_planes
    spins = IsingModel(2, 64).initial_state(5, 0, 3, "random")
    planes = to_planes(cupy, cupy.asarray(spins), CupyRunner())
    assert np.array_equal(cupy.asnumpy(planes), to_planes(np, spins))
    back = from_planes(planes, cupy.zeros_like(cupy.asarray(spins)), CupyRunner())
    assert np.array_equal(cupy.asnumpy(back), spins)


SIMULATE = """
[run]
seed = 12
[model]
kind = "{kind}"
dim = 2
L = {L}
q = {q}
[sampling]
temperatures = [0.9, 1.1, 2.3]
fields = [0.0, 0.2]
thermalize = 20
samples = 12
interval = 2
replicas = 4
start = "random"
"""


def simulate_config(kind, L, tempering):
    """The config text of the simulate gpu == cpu checks (here on a device; on the CPU emulator
    in test_gpu_emulated.py); tempering adds replica exchanges every 2 sweeps."""
    text = SIMULATE.format(kind=kind, L=L, q=2 if kind == "ising" else 3)
    return text + ("tempering = true\nexchange_every = 2\n" if tempering else "")


@gpu
@pytest.mark.parametrize("kind,L,tempering", [("ising", 10, False), ("potts", 8, False), ("ising", 256, False),
                                              ("ising", 10, True)])
def test_simulate_on_gpu_writes_the_cpu_samples(tmp_path, write_config, kind, L, tempering):
    """The whole Monte Carlo stage, run.backend gpu vs cpu: identical samples.h5 configs (chains
    kept on the device between chunks, uploaded again after replica exchanges)."""
    config = write_config(simulate_config(kind, L, tempering))
    configs = {}
    for backend in ("cpu", "gpu"):
        out = tmp_path / backend
        res = run_hpcrbm(["simulate", config, "--out", out, "--quiet", "--set", f"run.backend={backend}"],
                         env={"HPCRBM_WRITER": "root"})
        assert res.returncode == 0, res.stderr
        with h5py.File(out / "samples.h5") as h5:
            configs[backend] = h5["configs"][...]
    assert np.array_equal(configs["cpu"], configs["gpu"])
