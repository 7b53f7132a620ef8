"""Spin models (Ising in 1D and 2D with a field, q-state Potts and clock), their update kernels
(kernels/), parallel tempering and the sweep schedule; the simulate stage (hpcrbm/stages/simulate.py)
drives them."""
