"""Where the RBM flows end: per (RBM family, field, mode) and thermometer (neural, energy, |m|),
the verdict on the flows from every start at that field and of every training seed (a fixed
point only where they met and stopped moving, else the separate attractors; attractors.py),
where the synthetic starts end, and how both depend on the training epochs (rbm.snapshots)."""
import numpy as np

from ..io import files
from .attractors import classify_flows


def start_labels(flow_h5):
    """A name per start of flow.h5: "mc T=2.25", "up", "random"."""
    kinds, temperatures = files.start_kinds(flow_h5), files.start_temperatures(flow_h5)
    return [f"mc T={t:g}" if k == "mc" else str(k) for k, t in zip(kinds, temperatures)]


def verdicts(groups, sel, names, a):
    """{thermometer: attractors.classify_flows verdict} for the starts ``sel`` of the flow
    groups ``groups`` of flow.h5 (one per training seed, all judged together); ``a``: the
    [analysis] settings."""
    multi = len(groups) > 1
    labels = [f"seed {r}: {names[s]}" if multi else names[s] for r in range(len(groups)) for s in sel]
    seeds = np.repeat(np.arange(len(groups)), len(sel))

    def stack(name):
        return np.concatenate([g[name][sel] for g in groups])
    return {label: classify_flows(stack(f"temperature_{label}"), stack(f"temperature_{label}_err"), labels,
                                  z=a.z, resolution=a.resolution, window=a.window or None,
                                  inside=stack(f"temperature_{label}_inside") > 0.5, groups=seeds)
            for label in files.THERMOMETERS}


def end_state(groups, kinds, sel):
    """Where the synthetic starts ("up", "random") among ``sel`` end, per training seed: {kind:
    {observable: {"per_seed", "err" (chains' statistical error per seed), "mean", "spread" (std
    over seeds, ddof 1; None for one seed)}}} for |m|, the energy per site and the three
    thermometers' readings at the last step."""
    out = {}
    for s in sel:
        if kinds[s] == "mc":
            continue
        entry = out.setdefault(str(kinds[s]), {})
        for name in ("abs_magnetization", "energy") + tuple(f"temperature_{t}" for t in files.THERMOMETERS):
            values = [float(g[name][s, -1]) for g in groups]
            entry[name] = {"per_seed": values, "err": [float(g[f"{name}_err"][s, -1]) for g in groups],
                           "mean": float(np.mean(values)),
                           "spread": float(np.std(values, ddof=1)) if len(values) > 1 else None}
    return out


def flow_entries(cfg, flow_h5, families, label_of):
    """One entry per (RBM family, mode, field): ``label_of(family key)`` (e.g. {"nh": 100}),
    field, mode, seeds, fixed_point (:func:`verdicts`) and end_state (:func:`end_state`)."""
    field_index = files.start_field_indices(flow_h5)
    names, kinds = start_labels(flow_h5), files.start_kinds(flow_h5)
    out = []
    for family, keys in families.items():
        for mode in files.flow_modes(flow_h5, keys[0]):
            groups = [flow_h5[files.flow_group(key, mode)] for key in keys]
            for iH, H in enumerate(cfg.sampling.fields):
                sel = np.flatnonzero(field_index == iH)
                out.append({**label_of(family), "field": float(H), "mode": mode, "seeds": len(keys),
                            "fixed_point": verdicts(groups, sel, names, cfg.analysis),
                            "end_state": end_state(groups, kinds, sel)})
    return out


def fixed_points(cfg, flow_h5, controls=False):
    """List of dicts (nh or control, field, mode, seeds, fixed_point{nn, energy, magnetization},
    end_state): per thermometer the verdict on the flows from every start at that field and of
    every training seed (attractors.py): a fixed point only where they met and stopped,
    else the separate attractors."""
    if controls:
        return flow_entries(cfg, flow_h5, {k: [k] for k in files.flow_keys(flow_h5, True)},
                            lambda k: {"control": k[8:]})
    families = {nh: keys for (nh, _), keys in files.rbm_families(flow_h5).items()}
    return flow_entries(cfg, flow_h5, families, lambda nh: {"nh": nh})


def training_dependence(cfg, flow_h5, final):
    """Where the flows end against training epochs: for every N_h with snapshots (rbm.snapshots),
    an entry per (epoch, field, mode) as in :func:`fixed_points`, the last epoch being the
    trained RBM itself (``final``: fixed_points' entries). Empty without snapshots."""
    if not cfg.rbm.snapshots:
        return []
    out = flow_entries(cfg, flow_h5, files.rbm_families(flow_h5, snapshots=True),
                       lambda family: {"nh": family[0], "epoch": family[1]})
    out += [{**f, "epoch": cfg.rbm.epochs} for f in final]
    return sorted(out, key=lambda e: (e["nh"], e["field"], e["mode"], e["epoch"]))
