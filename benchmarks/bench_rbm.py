"""RBM training throughput and quality: hpcrbm's PCD-1 beside scikit-learn's BernoulliRBM.

Same data (2D Ising L = 10, v = (1 + s) / 2, 12000 configurations at six temperatures), same
hyperparameters (PCD-1, Nh = 64, batch 100, learning rate 0.01, float32), measured in the same
process, alternating, best of ``--repeats``. Then, at small Nh, both models' exact held-out
log-likelihood after the same number of epochs over ten seeds. Prints Markdown for docs/benchmarks.md.
Needs scikit-learn (a benchmark-only dependency: pip install scikit-learn).
"""
import argparse
import subprocess
import time

import numpy as np
from sklearn.neural_network import BernoulliRBM

from hpcrbm.backend import select_backend
from hpcrbm.bench import bench_rbm, ising_training_data
from hpcrbm.parallel import Communicator
from hpcrbm.rbm.api import RBM
from hpcrbm.rbm.likelihood import exact_log_partition, mean_log_likelihood
from hpcrbm.rbm.model import RBMParams


def sklearn_rate(data, n_hidden, epochs, dtype):
    X = data.astype(dtype)
    BernoulliRBM(n_components=n_hidden, learning_rate=0.01, batch_size=100, n_iter=1, random_state=0).fit(X[:1000])
    t0 = time.perf_counter()
    BernoulliRBM(n_components=n_hidden, learning_rate=0.01, batch_size=100, n_iter=epochs, random_state=0).fit(X)
    return epochs * len(X) / (time.perf_counter() - t0)


def held_out_log_likelihood(train, test, n_hidden, epochs, learning_rate, seeds=range(1, 11)):
    """Mean, standard error and standard deviation over seeds of the exact held-out
    log-likelihood, both codes. hpcrbm draws a new order of the training set every epoch from
    its seed; scikit-learn never reorders its input, so each of its seeds gets the training set
    in its own shuffled order (otherwise every scikit-learn seed shares one order and its spread
    leaves out the order-to-order variation, the larger part at a few epochs)."""
    ours, theirs = [], []
    for seed in seeds:
        rbm = RBM(n_hidden=n_hidden, batch_size=100, epochs=epochs, learning_rate=learning_rate, seed=seed).fit(train)
        ours.append(mean_log_likelihood(rbm.params, test, exact_log_partition(rbm.params)))
        shuffled = train[np.random.default_rng(1000 + seed).permutation(len(train))]
        sk = BernoulliRBM(n_components=n_hidden, learning_rate=learning_rate, batch_size=100, n_iter=epochs,
                          random_state=seed).fit(shuffled)
        p = RBMParams(sk.components_, sk.intercept_visible_, sk.intercept_hidden_)
        theirs.append(mean_log_likelihood(p, test, exact_log_partition(p)))
    return [(np.mean(x), np.std(x, ddof=1) / np.sqrt(len(x)), np.std(x, ddof=1)) for x in (ours, theirs)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    data = ising_training_data()
    comm, backend = Communicator(None), select_backend("cpu")
    ours, theirs32, theirs64 = [], [], []
    for _ in range(args.repeats):
        ours.append(bench_rbm(comm, backend, epochs=args.epochs)["samples_per_s"])
        theirs32.append(sklearn_rate(data, 64, args.epochs, np.float32))
        theirs64.append(sklearn_rate(data, 64, args.epochs, np.float64))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"PCD-1, Nv = 100, Nh = 64, batch 100, {args.epochs} epochs of {len(data)} samples, best of "
          f"{args.repeats}; commit {commit}, {time.strftime('%Y-%m-%d')}")
    print("| code | dtype | samples/s | hpcrbm / this |")
    print("|---|---|---|---|")
    best = max(ours)
    print(f"| hpcrbm | float32 | {best:,.0f} | 1.00 |")
    print(f"| scikit-learn BernoulliRBM | float32 | {max(theirs32):,.0f} | {best / max(theirs32):.2f} |")
    print(f"| scikit-learn BernoulliRBM | float64 | {max(theirs64):,.0f} | {best / max(theirs64):.2f} |")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    train, test = data[order[:10000]], data[order[10000:]]
    print("\nExact held-out log-likelihood per sample (2000 held-out configurations), same epochs and learning rate "
          "0.05, seeds 1 .. 10 (scikit-learn: each seed its own shuffled order), mean +- standard error (sd):")
    print("| Nh | epochs | hpcrbm | scikit-learn | difference |")
    print("|---|---|---|---|---|")
    for n_hidden in (8, 16):
        for epochs in (5, 20):
            (a, da, sa), (b, db, sb) = held_out_log_likelihood(train, test, n_hidden, epochs, 0.05)
            print(f"| {n_hidden} | {epochs} | {a:.2f} +- {da:.2f} ({sa:.2f}) | {b:.2f} +- {db:.2f} ({sb:.2f}) | "
                  f"{a - b:+.2f} +- {np.hypot(da, db):.2f} |")

if __name__ == "__main__":
    main()
