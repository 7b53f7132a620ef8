"""Flow stage: iterate trained RBMs (v -> h -> v ...) and measure where the flows go."""
