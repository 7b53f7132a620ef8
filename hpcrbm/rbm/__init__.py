"""RBM stage: restricted Boltzmann machines with Bernoulli or categorical (one-hot) visibles."""
