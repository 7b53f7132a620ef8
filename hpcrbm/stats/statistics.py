"""Honest Monte Carlo error bars: jackknife over independent blocks, tau_int of a series.

Samples of one grid point are laid out as an array (rounds, R): R independent chains
(replicas), each measured every ``interval`` sweeps. Jackknife blocks are groups of whole
chains when there are enough chains (blocks then are strictly independent), otherwise
each chain is cut into consecutive segments of rounds (binning), each at least BLOCK_TAUS
integrated autocorrelation times long, so that neighbouring segments are nearly independent:
fewer segments where the chain decorrelates slowly. The error of a mean from B blocks is itself
uncertain: (mean - exact) / error follows Student's t with B - 1 degrees of freedom, which
:func:`normal_z` turns into the normal deviate of the same tail probability.
"""
import numpy as np

N_BLOCKS = 32
# A segment of b rounds underestimates the variance of the mean by about 2 tau / b (correlations
# across segment borders); at 20 tau that is 10 % of the variance, 5 % of the error.
BLOCK_TAUS = 20.0


def block_labels(rounds, replicas, n_blocks=N_BLOCKS, min_rounds=1):
    """Integer block label for each (round, replica) sample; labels 0 .. B-1. With fewer
    replicas than ``n_blocks``, each replica's rounds are cut into segments of at least
    ``min_rounds`` rounds (at least one segment)."""
    if replicas >= n_blocks:
        by_chain = np.arange(replicas) * n_blocks // replicas
        return np.broadcast_to(by_chain, (rounds, replicas))
    segments = max(1, min(rounds, n_blocks // replicas, rounds // max(int(min_rounds), 1)))
    by_round = np.arange(rounds) * segments // rounds
    return by_round[:, None] * replicas + np.arange(replicas)[None, :]


def jackknife(estimator, moments, labels):
    """Value and jackknife error of ``estimator(*means)``.

    moments: list of arrays (rounds, R) whose means the estimator combines;
    labels: block labels of the same shape. Returns (value, error); error is NaN with
    fewer than two blocks.
    """
    flat = labels.ravel()
    n_blocks = int(flat.max()) + 1
    counts = np.bincount(flat, minlength=n_blocks).astype(float)
    sums = [np.bincount(flat, weights=np.asarray(m, float).ravel(), minlength=n_blocks) for m in moments]
    total = counts.sum()
    value = estimator(*[s.sum() / total for s in sums])
    if n_blocks < 2:
        return float(value), float("nan")
    leave_out = [(s.sum() - s) / (total - counts) for s in sums]
    thetas = estimator(*leave_out)
    err = np.sqrt((n_blocks - 1) / n_blocks * np.sum((thetas - thetas.mean()) ** 2))
    return float(value), float(err)


def tau_int(series, window_factor=6.0):
    """Integrated autocorrelation time of ``series`` (rounds, R), in rounds.

    Autocorrelation averaged over chains, Sokal's self-consistent window W >= c tau.
    NaN when there are fewer than 8 rounds or no fluctuations.
    """
    x = np.asarray(series, dtype=float)
    rounds = x.shape[0]
    if rounds < 8:
        return float("nan")
    x = x - x.mean()
    n_fft = 1 << int(np.ceil(np.log2(2 * rounds)))
    spectrum = np.fft.rfft(x, n=n_fft, axis=0)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), n=n_fft, axis=0)[:rounds].sum(axis=1)
    acf /= np.arange(rounds, 0, -1)
    if acf[0] <= 0:
        return float("nan")
    rho = acf / acf[0]
    tau = 0.5
    for w in range(1, rounds):
        tau += rho[w]
        if w >= window_factor * tau:
            break
    return float(tau)


SUMMARY_NAMES = ("energy", "abs_magnetization", "specific_heat", "susceptibility", "binder")


def normal_z(t, dof):
    """The normal deviate with the same two-sided tail probability as Student's ``t`` with
    ``dof`` degrees of freedom (sign kept); ``t`` itself for dof >= 1000; NaN for dof < 1."""
    from scipy import stats
    if not np.isfinite(t) or dof < 1:
        return float("nan")
    if dof >= 1000:
        return float(t)
    return float(np.copysign(stats.norm.isf(stats.t.sf(abs(t), dof)), t))


def point_summary(energy, magnetization, n_sites, temperature):
    """Per-site summary of one grid point from per-sample energy and magnetisation (rounds, R).

    Returns {name: (value, error)} for SUMMARY_NAMES, {"tau_int": the larger tau of the energy
    and of |m|} and {"blocks": the number of jackknife blocks}: whole replicas, or segments of at
    least BLOCK_TAUS * tau_int rounds. c = N var(e) / T^2, chi = N (<m^2> - <|m|>^2) / T,
    U4 = 1 - <m^4> / (3 <m^2>^2).
    """
    e = np.asarray(energy, float)
    m = np.abs(np.asarray(magnetization, float))
    taus = [t for t in (tau_int(e), tau_int(m)) if np.isfinite(t)]
    tau = max(taus) if taus else float("nan")
    labels = block_labels(*e.shape, min_rounds=int(np.ceil(BLOCK_TAUS * tau)) if np.isfinite(tau) else 1)
    N, T = n_sites, temperature
    out = {
        "energy": jackknife(lambda a: a, [e], labels),
        "abs_magnetization": jackknife(lambda a: a, [m], labels),
        "specific_heat": jackknife(lambda a, b: N * (b - a * a) / T**2, [e, e * e], labels),
        "susceptibility": jackknife(lambda a, b: N * (b - a * a) / T, [m, m * m], labels),
        "binder": jackknife(lambda b, d: 1 - d / (3 * b * b), [m * m, m**4], labels),
    }
    out["tau_int"] = float(tau)
    out["blocks"] = int(labels.max()) + 1
    return out
