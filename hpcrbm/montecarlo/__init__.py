"""Monte Carlo stage: spin models, their update kernels, observables and the simulate driver."""
