"""RBM training kernels: training_cpu.py (numba) and its array twin training_array.py (NumPy or
CuPy), equal bit for bit; the Monte Carlo kernels have the same home in montecarlo/kernels/."""
