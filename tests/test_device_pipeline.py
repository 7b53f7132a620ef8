"""The whole pipeline on the device code paths (a GPU backend whose CUDA kernels run on the CPU
emulator and whose array module is NumPy): the Monte Carlo kernels, the RBM training, AIS,
flows and neural thermometer take their GPU code paths and write the CPU run's files bit for bit.
On a real GPU only tanh, exp and the float matrix products round differently."""
import h5py
import numpy as np

from hpcrbm.backend import Backend, select_backend
from hpcrbm.config import loads
from hpcrbm.parallel import Communicator
from hpcrbm.pipeline import run_all

from .stages.test_stages import CONFIG, FILES


def datasets(path):
    out = {}
    with h5py.File(path) as h5:
        h5.visititems(lambda name, obj: out.__setitem__(name, obj[...]) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_device_code_paths_write_the_cpu_files(runner, tmp_path):
    text = CONFIG.replace("hidden = [4]", "hidden = [4, 24]\nais_steps = 20")  # Nh 24: AIS on the device
    runs = {}
    for name, backend in (("cpu", select_backend("cpu")), ("gpu", Backend("gpu", np, "emulated", runner))):
        cfg = loads(text, [f"run.out={tmp_path / name}"])
        run_all(cfg, Communicator(None), backend, quiet=True)
        runs[name] = tmp_path / name
    for file in FILES:
        cpu, gpu = datasets(runs["cpu"] / file), datasets(runs["gpu"] / file)
        assert cpu.keys() == gpu.keys() and len(cpu) > 3, file
        different = [k for k in cpu if not np.array_equal(cpu[k], gpu[k], equal_nan=cpu[k].dtype.kind == "f")]
        assert not different, (file, different)
    with h5py.File(runs["gpu"] / "rbm.h5") as h5:
        assert h5.attrs["backend"] == "gpu" and h5["rbm/nh24"].attrs["log_likelihood_method"] == "ais"
