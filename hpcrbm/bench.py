"""``hpcrbm bench``: throughput on this machine. The measurements live beside what they measure
(montecarlo/throughput.py, rbm/throughput.py, which the stages' time estimates use too); this
module gathers them for the command line and benchmarks/."""
from .montecarlo.throughput import bench_mc, device_copy_bytes_per_ns
from .rbm.throughput import bench_rbm, device_matmul_flops, ising_training_data

__all__ = ["bench_mc", "bench_rbm", "device_copy_bytes_per_ns", "device_matmul_flops", "ising_training_data"]
