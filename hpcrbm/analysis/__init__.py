"""What only the analysis stage uses: where flows end (attractors.py, fixed_points.py), the
Monte Carlo against exact results (observables.py: specific-heat maximum, validation),
specific-heat reweighting (reweighting.py), the exponent beta (exponents.py), block-spin RG
(rg.py), the figures (figures.py)."""
