"""Monte Carlo update kernels: numba CPU kernels, their NumPy references, CUDA twins (.cu)."""
