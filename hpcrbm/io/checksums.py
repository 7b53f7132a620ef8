"""Checksums of a run file's datasets: written once when a stage's file is complete, verified when
a stage is about to read it or skip it, so a corrupted byte inside a dataset (a disk or copy fault,
a hand edit) is found instead of used.

The root attribute ``checksums`` is JSON {dataset path: 16 hex digits of SHA-256 over its dtype,
shape and bytes in C order}, datasets read in slabs of about 64 MiB. Files written before it
existed have no such attribute and are not verified.
"""
import hashlib
import json

import h5py
import numpy as np

SLAB_BYTES = 64 * 2**20


def dataset_digest(dset):
    """16 hex digits of SHA-256 over ``dset``'s dtype, shape and values (C order)."""
    h = hashlib.sha256(f"{dset.dtype.str} {dset.shape}".encode())
    if dset.shape == () or dset.size == 0:
        h.update(np.asarray(dset[()]).tobytes())
        return h.hexdigest()[:16]
    row = max(dset.dtype.itemsize * dset.size // dset.shape[0], 1)
    step = max(SLAB_BYTES // row, 1)
    for start in range(0, dset.shape[0], step):
        h.update(np.ascontiguousarray(dset[start:start + step]).tobytes())
    return h.hexdigest()[:16]


def digests(h5):
    """{dataset path: digest} for every dataset of the open file ``h5``, in path order."""
    names = []
    h5.visititems(lambda name, node: names.append(name) if isinstance(node, h5py.Dataset) else None)
    return {name: dataset_digest(h5[name]) for name in sorted(names)}


def seal(path):
    """Write the ``checksums`` attribute of the closed file ``path`` (one process)."""
    with h5py.File(path, "r+") as h5:
        h5.attrs["checksums"] = json.dumps(digests(h5))


def damaged_dataset(h5):
    """The first dataset of the open file ``h5`` whose values no longer match its stored checksum
    (or that is missing or added), or None: all match, or the file has no checksums."""
    stored = h5.attrs.get("checksums")
    if stored is None:
        return None
    stored, now = json.loads(stored), digests(h5)
    return next((name for name in sorted(set(stored) | set(now)) if stored.get(name) != now.get(name)), None)
