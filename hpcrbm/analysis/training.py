"""How each trained RBM of a run was trained, for the report: its epochs, what ended the training
(rbm.stop) and whether its monitors had stopped improving (rbm/monitors.py) at the end."""
import h5py

from ..io import files
from ..rbm.monitors import monitors, stopped_improving, trend


def training_record(cfg, rbm_path):
    """[{"key", "nh", "seed", "epochs", "stopped_by", "window", "monitors": {name: improvement per
    visible unit per epoch}, "stopped_improving"}] for every trained RBM of rbm.h5 (controls and
    snapshots aside), in key order. The judgement uses rbm.patience epochs per window, or half the
    epochs when the training was shorter than two windows; rbm.tolerance as the threshold."""
    sites, r = cfg.model.L ** cfg.model.dim, cfg.rbm
    out = []
    with h5py.File(rbm_path, "r") as h5:
        for key in sorted(h5[files.RBM_GROUP], key=lambda k: files.parse_rbm_key(k)[:2]):
            group = h5[files.rbm_group(key)]
            history = {name: group[files.HISTORY][name][...] for name in group[files.HISTORY]}
            epochs = len(history.get("epoch", []))
            window = r.patience if epochs >= 2 * r.patience else max(epochs // 2, 1)
            nh, seed, _ = files.parse_rbm_key(key)
            out.append({"key": key, "nh": nh, "seed": seed, "epochs": epochs,
                        "stopped_by": str(group.attrs.get("stopped_by", "epochs")), "window": window,
                        "monitors": trend(history, sites, window)["monitors"],
                        "monitor_kind": "exact log-likelihood" if monitors(history)[0][0] == "log_likelihood"
                        else "pseudo-likelihood and reconstruction error",
                        "stopped_improving": bool(stopped_improving(history, sites, window, r.tolerance))})
    return out
