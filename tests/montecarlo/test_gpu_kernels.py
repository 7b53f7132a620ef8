"""CUDA kernels: every .cu source compiles with nvcc (CPU machines with nvcc, as in CI), and on
a GPU they reproduce the CPU kernels bit for bit. GPU tests skip cleanly without CuPy/a device."""
import shutil
import subprocess

import numpy as np
import pytest

from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.kernels.gpu import cuda_source
from hpcrbm.montecarlo.qstate import QStateModel
from hpcrbm.rng.philox import philox4x32_numpy


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_kernels_compile_with_nvcc(tmp_path):
    source = tmp_path / "hpcrbm_kernels.cu"
    source.write_text(cuda_source())
    result = subprocess.run(["nvcc", "-ptx", "-arch=sm_90", str(source), "-o", str(tmp_path / "k.ptx")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    ptx = (tmp_path / "k.ptx").read_text()
    for name in ("philox_words", "ising2d_half_sweep", "ising1d_half_sweep", "qstate2d_half_sweep",
                 "qstate1d_half_sweep"):
        assert f".entry {name}" in ptx, name


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
    from hpcrbm.montecarlo.kernels.gpu import module
    out = cupy.zeros(4 * 1000, dtype=cupy.uint32)
    module().get_function("philox_words")((4,), (256,), (out, np.int32(1000), np.uint32(7), np.uint32(3),
                                                          np.uint32(5 * 256 + 1), np.uint32(11), np.uint32(13)))
    b = np.arange(1000)
    expected = np.stack(philox4x32_numpy(b, 7, 3, 5 * 256 + 1, 11, 13), axis=1).reshape(-1)
    assert np.array_equal(cupy.asnumpy(out), expected)


@gpu
@pytest.mark.parametrize("model", [IsingModel(2, 16), IsingModel(2, 10), IsingModel(1, 17), IsingModel(1, 64),
                                   QStateModel("potts", 2, 12, 3), QStateModel("clock", 2, 16, 4),
                                   QStateModel("potts", 1, 9, 3), QStateModel("clock", 1, 20, 6)],
                         ids=lambda m: f"{getattr(m, 'kind', 'ising')}-{m.dim}d-L{m.L}")
def test_gpu_equals_cpu_bit_for_bit(model):
    import cupy
    from hpcrbm.montecarlo.kernels.gpu import metropolis_gpu
    seed = 2**36 + 5
    spins = model.initial_state(seed, 7, 8, "random")
    table = model.thresholds(1.3, 0.1)
    cpu = spins.copy()
    model.sweep(cpu, table, seed, 7, 3, 20)
    device = cupy.asarray(spins)
    metropolis_gpu(model, device, table, seed, 7, 3, 20)
    assert np.array_equal(cupy.asnumpy(device), cpu)
