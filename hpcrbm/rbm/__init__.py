"""Restricted Boltzmann machines with Bernoulli or categorical (one-hot) visibles: the model, exact
training (training.py, kernels/), log-likelihoods; the train stage is hpcrbm/stages/train.py."""
