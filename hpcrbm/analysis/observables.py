"""The run's Monte Carlo observables against what is known: the specific-heat maximum
(reweighted, beside the exact finite-L one where an exact result applies, exact/reference.py)
and the validation of u and c against exact results, by z-score."""
import math

from ..exact.reference import exact_method, exact_observables, exact_specific_heat_peak
from ..io import files
from ..stats.statistics import normal_z
from .reweighting import specific_heat_peak as reweighted_peak


def specific_heat_peak(cfg, samples_path, T, iH):
    """The specific-heat maximum at field index iH: from the run's own Monte Carlo (multi-
    histogram reweighting around the grid maximum, jackknife error; reweighting.py) and
    the exact finite-L maximum where an exact result applies (exact/reference.py), with the
    z-score between them. "T" is the exact value where there is one, else the Monte Carlo one."""
    field = cfg.sampling.fields[iH]
    exact = exact_specific_heat_peak(cfg.model, field, T.min(), T.max())
    mc = reweighted_peak(T, files.read_field_energies(samples_path, iH), cfg.model.L ** cfg.model.dim)
    out = {"monte_carlo": mc, "exact": exact, "exact_source": exact_method(cfg.model, field)}
    if exact is not None:
        out.update(T=exact, source=out["exact_source"])
        out["z"] = (mc["T"] - exact) / mc["err"] if mc and mc["err"] > 0 else None
    elif mc is not None:
        out.update(T=mc["T"], source="monte carlo", z=None)
    else:
        out.update(T=None, source=None, z=None)
    return out


def validation(cfg, samples_h5, z_max=4.0):
    """This run's Monte Carlo averages against exact results, by z-score; ``samples_h5``: the
    summary of samples.h5 (io.files.read_samples_summary). Each check's ``t`` = (value - exact) /
    err follows Student's t with ``blocks`` - 1 degrees of freedom (the error's own uncertainty);
    ``z`` is its normal equivalent (stats.statistics.normal_z), which the verdicts judge."""
    T, fields = samples_h5["temperatures"], samples_h5["fields"]
    checks = []
    for iH, H in enumerate(fields):
        for iT, t in enumerate(T):
            exact = exact_observables(cfg.model, float(t), float(H))
            if exact is None:
                continue
            blocks = int(samples_h5["blocks"][iT, iH])
            for name, value in zip(("energy", "specific_heat"), (exact[0][0], exact[1][0])):
                mean = float(samples_h5[name][iT, iH])
                err = float(samples_h5[f"{name}_err"][iT, iH])
                t_score = (mean - value) / err if err > 0 else float("nan")
                checks.append({"T": float(t), "H": float(H), "observable": name, "value": mean, "err": err,
                               "exact": float(value), "t": t_score, "blocks": blocks,
                               "z": normal_z(t_score, blocks - 1)})
    judged = [c for c in checks if math.isfinite(c["z"])]
    return {"z_max": z_max, "checks": checks, "passed": int(sum(abs(c["z"]) < z_max for c in judged)),
            "failed": int(sum(abs(c["z"]) >= z_max for c in judged)), "not_judged": len(checks) - len(judged),
            "note": "no exact result for this model, size or field" if not checks else
                    "errors of zero (frozen samples) are not judged"}
