"""The resource plan of a run: memory per rank and disk per file for every stage, estimated from
the config alone and checked against the machine before any work (``hpcrbm plan CONFIG``
prints it; ``hpcrbm run`` and every stage command refuse, with exit 2 and the numbers, a
config that cannot fit).

Estimates are upper bounds of the large arrays (configurations, chains, weights, flows), not
of the interpreter (about 150 MB per rank, added once). Memory is checked per node: the
ranks sharing this node times the busiest rank's need, against MemAvailable (or the cgroup's
limit, e.g. a Slurm allocation's); disk against the free space of the run directory's file
system, counting only the files still to be written.
"""
import os
from pathlib import Path

from .errors import InputError
from .stages import registered, stage_named

INTERPRETER = 150 * 2**20  # bytes per rank: Python, NumPy, h5py, mpi4py, numba's compiled kernels
DISK_MARGIN = 1.1  # HDF5 metadata and free-space overhead
MEMORY_SHARE = 0.9  # of the available memory that a run may plan to use


def stage_needs(cfg, ranks):
    """[StageNeeds] of every registered stage of ``cfg`` run on ``ranks`` ranks."""
    out = {}
    for stage in registered():
        out[stage.name] = stage.needs(cfg, ranks, dict(out))
    return list(out.values())


def available_memory():
    """Bytes this node can still give: MemAvailable, capped by a cgroup limit (Slurm, containers)."""
    total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                total = int(line.split()[1]) * 1024
    except OSError:
        pass
    v1 = "/sys/fs/cgroup/memory/memory."
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         (v1 + "limit_in_bytes", v1 + "usage_in_bytes")):
        try:
            cap = Path(limit).read_text().strip()
            if cap != "max" and int(cap) < 2**60:
                free = int(cap) - int(Path(usage).read_text())
                total = free if total is None else min(total, free)
            break
        except (OSError, ValueError):
            continue
    return total


def free_disk(run_dir):
    """Free bytes on the file system that holds (or will hold) ``run_dir``."""
    path = Path(run_dir).resolve()
    while not path.exists():
        path = path.parent
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def size(n):
    """Bytes in human units (binary prefixes)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def check_data(cfg, stage_names):
    """Raise InputError naming the key when a stage would get less data than its settings need
    (a batch larger than its training set, no held-out sample to calibrate on)."""
    s, r, t = cfg.sampling, cfg.rbm, cfg.thermometer
    if "train" in stage_names:
        training = len(s.temperatures) * len(s.fields) * max(1, round(r.train_fraction * s.samples))
        if r.batch_size > training:
            raise InputError(f"config key rbm.batch_size: {r.batch_size} is larger than the training data ({training} "
                             "samples: points * sampling.samples * rbm.train_fraction)")
    if "thermometer" in stage_names:
        kept = max(1, round((1 - t.holdout) * s.samples))
        if kept >= s.samples:
            raise InputError(f"config key thermometer.holdout: {t.holdout} of sampling.samples ({s.samples}) leaves "
                             "no held-out sample per point to calibrate the thermometer on")
        if t.batch_size > kept * len(s.temperatures):
            raise InputError(f"config key thermometer.batch_size: {t.batch_size} is larger than the thermometer's "
                             f"training data per field ({kept * len(s.temperatures)} samples: temperatures * "
                             "sampling.samples * (1 - thermometer.holdout))")


def check_ranks(cfg, ranks):
    """Refuse more ranks than (T, H) grid points: every rank owns a slice of the grid."""
    points = len(cfg.sampling.temperatures) * len(cfg.sampling.fields)
    if ranks < 1:
        raise InputError(f"ranks: {ranks}; at least 1")
    if ranks > points:
        raise InputError(f"ranks: {ranks} ranks for {points} (T, H) grid points; every rank owns a slice of the grid: "
                         f"run on at most {points} ranks")


def check(cfg, stage_names, comm, backend=None):
    """Refuse (InputError, exit 2 on every rank, with the numbers) the stages ``stage_names`` of
    ``cfg`` when their data settings are inconsistent or they cannot fit in this node's memory,
    on this rank's GPU (``backend``) or on the run directory's disk (files already there count
    as written). Collective."""
    check_data(cfg, stage_names)
    check_ranks(cfg, comm.size)
    ranks_here = comm.node()[1]
    try:
        error = ""
        if backend is not None and backend.name == "gpu" and hasattr(backend.xp, "cuda"):  # not the emulator
            _check_device(cfg, stage_names, comm.size, ranks_here, backend.xp)
        _check_resources(cfg, stage_names, comm.size, ranks_here, cfg.out_dir)
    except InputError as exc:
        error = str(exc)
    if not comm.all_true(not error):
        raise InputError(comm.bcast_text(error) or "resources: another node of this run cannot fit it "
                                                   "(hpcrbm plan CONFIG)")


def _check_resources(cfg, stage_names, ranks, ranks_here, run_dir):
    needs = [n for n in stage_needs(cfg, ranks) if n.name in stage_names]
    memory = available_memory()
    if memory is not None:
        worst = max(needs, key=lambda n: n.memory)
        wanted = ranks_here * (worst.memory + INTERPRETER)
        if wanted > MEMORY_SHARE * memory:
            raise InputError(f"resources: the {worst.name} stage needs about {size(worst.memory + INTERPRETER)} per "
                             f"rank, {size(wanted)} for the {ranks_here} rank(s) on this node, more than "
                             f"{MEMORY_SHARE:.0%} of the {size(memory)} available; reduce {_limits(worst.name)} or use "
                             "more nodes (hpcrbm plan CONFIG shows every stage)")
    to_write = sum(b for n in needs for name, b in n.disk.items() if not (Path(run_dir) / name).exists())
    free = free_disk(run_dir)
    if DISK_MARGIN * to_write > free:
        raise InputError(f"resources: the run needs about {size(DISK_MARGIN * to_write)} of disk in {run_dir} but "
                         f"{size(free)} is free; free some space or choose another run.out "
                         "(hpcrbm plan CONFIG shows every file)")


def _check_device(cfg, stage_names, ranks, ranks_here, cupy):
    """The stages' GPU arrays against the free memory of this rank's device, shared by the ranks
    of this node that use the same device."""
    sharing = -(-ranks_here // cupy.cuda.runtime.getDeviceCount())
    free = cupy.cuda.Device().mem_info[0]
    for n in stage_needs(cfg, ranks):
        if n.name in stage_names and sharing * n.device > MEMORY_SHARE * free:
            raise InputError(f"resources: the {n.name} stage needs about {size(n.device)} of GPU memory per rank, "
                             f"{sharing} rank(s) per GPU, but {size(free)} is free on it; reduce "
                             f"{_limits(n.name)} or use more GPUs")


def _limits(name):
    return stage_named(name).limits


def time_estimates(cfg, ranks):
    """{stage: TimeEstimate} of every registered stage that has one (``Stage.estimate``)."""
    return {stage.name: stage.estimate(cfg, ranks) for stage in registered() if stage.estimate is not None}


def plan_text(cfg, ranks, ranks_here, estimates=None):
    """The plan as text: stages, memory per rank, files, free resources, the time of every stage
    (``estimates``: :func:`time_estimates`) and their total."""
    needs = stage_needs(cfg, ranks)
    lines = [f"plan for {cfg.out_dir} on {ranks} rank(s), {ranks_here} on this node", "",
             f"{'stage':12s} {'memory/rank':>12s} {'GPU/rank':>12s} {'disk':>12s}  work"]
    for n in needs:
        lines.append(f"{n.name:12s} {size(n.memory + INTERPRETER):>12s} {size(n.device) if n.device else '-':>12s} "
                     f"{size(sum(n.disk.values())):>12s}  {n.work}")
    lines += ["", "files:"] + [f"  {name:28s} {size(b):>10s}" for n in needs for name, b in n.disk.items()]
    memory, free = available_memory(), free_disk(cfg.out_dir)
    peak = max(n.memory for n in needs) + INTERPRETER
    lines += ["", f"memory: {size(ranks_here * peak)} at peak on this node, "
                  f"{size(memory) if memory is not None else 'unknown'} available",
              f"disk: {size(DISK_MARGIN * sum(b for n in needs for b in n.disk.values()))} in all, "
              f"{size(free)} free in {Path(cfg.out_dir).resolve()}"]
    if estimates:
        lines += ["", "time (each stage's inner step measured here, on one core, and multiplied):"]
        total = 0.0
        for name, e in estimates.items():  # a stage's first calls: the kernels' compiling (cold cache) or loading
            compile_note = f" (of which {seconds_text(e.compile)} compiling: cold kernel cache)" \
                if e.compile >= 1 else ""
            lines.append(f"  {name:12s} {seconds_text(e.seconds + e.compile):>8s}   {e.basis}{compile_note}")
            total += e.seconds + e.compile
        lines.append(f"  {'total':12s} {seconds_text(total):>8s}")
    return "\n".join(lines)


def seconds_text(seconds):
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
