"""What only the analysis stage uses: where flows end (attractors.py), specific-heat reweighting
(reweighting.py), block-spin RG (rg.py), the figures (figures.py)."""
