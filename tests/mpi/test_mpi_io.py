"""Run under ``mpiexec -n 2|3 python -m pytest --with-mpi -m mpi tests/mpi``.

Every assertion is first combined over ranks (``comm.all_true``), so one failing rank
cannot leave the others waiting in a collective call.
"""
import json
import shutil
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcrbm.backend import select_backend
from hpcrbm.config import loads
from hpcrbm.io.hdf5 import GridFile, ParallelFile, read_points
from hpcrbm.parallel import Communicator
from hpcrbm.pipeline import run_all, run_stage
from hpcrbm.stages.simulate import STAGE as SIMULATE
from tools.compare_runs import compare_h5, compare_json

pytestmark = pytest.mark.mpi


@pytest.fixture(scope="module")
def comm():
    return Communicator.world()


@pytest.fixture
def shared_dir(comm):
    """A directory all ranks see: made by rank 0, its name broadcast."""
    path = Path(comm.bcast_text(tempfile.mkdtemp(prefix="hpcrbm-mpi-") if comm.is_root else ""))
    yield path
    comm.barrier()
    if comm.is_root:
        shutil.rmtree(path, ignore_errors=True)


def test_slices_cover_grid_once(comm):
    n = 17
    counts = np.zeros(n, np.int64)
    counts[slice(*comm.slice(n))] = 1
    total = comm.allreduce_sum(counts)
    assert comm.all_true(np.all(total == 1))
    assert comm.all_true(all(comm.owner(p, n) == comm.rank for p in range(*comm.slice(n))))


def test_the_node_sum_is_the_allreduce_sum_step_after_step(comm):
    """NodeSum (the training's gradient sums through shared memory, all ranks on one node) gives
    the allreduce's sums of integer-valued arrays, exactly, over many steps with no other
    collective between them, one rank in turn reading late after the barrier while the others
    write their next parts (its two alternating slots keep those apart); made once per size."""
    summed = comm.node_sum(1001)
    ok = summed is not None and comm.node_sum(1001) is summed and comm.node_sum(1000) is not summed

    def late_reader(arrive=summed._arrive):  # the barrier, then a pause on the rank whose turn it is
        arrive()
        if comm.rank == summed.calls % comm.size:
            time.sleep(0.003)

    summed._arrive = late_reader
    rng = np.random.default_rng(comm.rank)
    parts = [rng.integers(-2**23, 2**23, 1001).astype(np.float64) * (step + 1) for step in range(40)]
    totals = []
    try:
        for part in parts:
            summed.part[:] = part
            totals.append(summed.total().copy())
    finally:
        del summed._arrive
    ok &= all(np.array_equal(total, comm.allreduce_sum(part)) for total, part in zip(totals, parts))
    assert comm.all_true(ok)
    assert Communicator(None).node_sum(10) is None and Communicator.alone().node_sum(10) is None


def test_share_runs_each_task_once_and_gives_every_rank_every_result(comm):
    ran = []

    def task(i):
        ran.append(i)
        return {"i": i, "x": [i / 3, float("nan")] if i == 4 else [i / 3]}
    results = comm.share([lambda i=i: task(i) for i in range(5)])
    expected = [{"i": i, "x": [i / 3]} for i in range(5)]
    ok = results[:4] == expected[:4] and results[4]["x"][0] == 4 / 3 and np.isnan(results[4]["x"][1])
    ok &= ran == list(range(comm.rank, 5, comm.size))
    total = comm.allreduce_sum(np.array([len(ran)]))[0]
    failing = [lambda: 1] * comm.size + [lambda: 1 / 0]  # raises on one rank only
    try:
        comm.share(failing)
        raised = False
    except RuntimeError as exc:
        raised = "ZeroDivisionError" in str(exc)
    assert comm.all_true(ok and total == 5 and raised)


@pytest.mark.parametrize("strategy", ["mpio", "root"])
def test_grid_file_gathers_every_rank_points(comm, shared_dir, monkeypatch, strategy):
    if strategy == "root":
        monkeypatch.setenv("HPCRBM_WRITER", "root")
    nT, nH, S = 5, 2, 6
    path = shared_dir / f"grid-{strategy}.h5"
    f = GridFile(path, comm, "w")
    f.create("values", (nT, nH, S, 3), np.int8)
    f.create("scalar", (nT, nH), np.float64)
    f.set_attrs({"complete": False})
    items, scalars = [], []
    for p in range(*comm.slice(nT * nH)):
        iT, iH = divmod(p, nH)
        items.append((iT, iH, 0, 4, np.full((4, 3), p, np.int8)))
        items.append((iT, iH, 4, 6, np.full((2, 3), -p, np.int8)))
        scalars.append((iT, iH, None, None, p * 0.5))
    f.write_points("values", items)
    f.write_points("scalar", scalars)
    final = shared_dir / f"final-{strategy}.h5"
    f.commit(final)
    with h5py.File(final) as h5:
        values, scalar = h5["values"][:], h5["scalar"][:]
    expected = np.arange(nT * nH).reshape(nT, nH)
    ok = np.array_equal(values[:, :, :4, 0], np.repeat(expected[:, :, None], 4, 2))
    ok &= np.array_equal(values[:, :, 4:, 0], -np.repeat(expected[:, :, None], 2, 2))
    ok &= np.array_equal(scalar, expected * 0.5) and not path.exists()
    mine = list(range(*comm.slice(nT * nH)))
    back = read_points(final, "scalar", mine, (nT, nH))
    ok &= np.array_equal(back, np.array(mine) * 0.5)
    assert comm.all_true(ok)


def test_in_process_simulate_matches_serial_point_sampling(comm, shared_dir):
    """The simulate stage under MPI stores exactly what sample_point() gives for each point."""
    from hpcrbm.montecarlo.ising import IsingModel
    from hpcrbm.montecarlo.single_point import sample_point
    cfg = loads(f"""
[run]
seed = 11
out = "{shared_dir / 'run'}"
[model]
dim = 2
L = 4
[sampling]
temperatures = [1.0, 2.0, 3.0]
fields = [0.0, 0.5]
thermalize = 30
samples = 12
interval = 2
replicas = 4
""")
    path = run_stage(SIMULATE, cfg, comm, select_backend("cpu"), quiet=True)
    model = IsingModel(2, 4)
    ok = True
    with h5py.File(path) as h5:
        energy = h5["observables/energy"][:]
        ok &= bool(h5.attrs["complete"]) and int(h5.attrs["ranks"]) == comm.size
    for p in range(*comm.slice(6)):
        iT, iH = divmod(p, 2)
        e, _ = sample_point(model, cfg.sampling.temperatures[iT], cfg.sampling.fields[iH], 11, p, 4, 30, 3, 2)
        ok &= np.array_equal(e.reshape(-1), energy[iT, iH])
    assert comm.all_true(ok)


@pytest.mark.parametrize("strategy", ["mpio", "root"])
def test_parallel_file_rows_from_every_rank(comm, shared_dir, monkeypatch, strategy):
    if strategy == "root":
        monkeypatch.setenv("HPCRBM_WRITER", "root")
    n = 7
    lo, hi = comm.slice(n)
    f = ParallelFile(shared_dir / f"rows-{strategy}.partial", comm, "w")
    f.create("rows", (n, 3), np.float64)
    f.write_rows("rows", lo, hi, np.arange(lo, hi)[:, None] * np.ones(3))
    f.create_global("kind", np.array(["mc", "random"], dtype="S6"))
    f.commit(shared_dir / f"rows-{strategy}.h5")
    with h5py.File(shared_dir / f"rows-{strategy}.h5") as h5:
        ok = np.array_equal(h5["rows"][:], np.arange(n)[:, None] * np.ones(3))
        ok &= list(h5["kind"][:].astype(str)) == ["mc", "random"]
    assert comm.all_true(ok)


PIPELINE = """
[run]
seed = 8
[model]
L = 4
[sampling]
temperatures = [1.5, 2.27, 3.5]
thermalize = 50
samples = 60
interval = 2
[rbm]
hidden = [4]
batch_size = 30
epochs = 2
[thermometer]
epochs = 2
[flow]
steps = 2
samples = 6
"""


def test_every_stage_writes_the_same_files_with_either_writer(comm, shared_dir, monkeypatch):
    """The whole pipeline in process: every stage's file through the mpio writer equals the
    gather-to-root writer's, dataset by dataset and attribute by attribute (provenance aside)."""
    out = {}
    for strategy in ("mpio", "root"):
        monkeypatch.setenv("HPCRBM_WRITER", strategy if strategy == "root" else "")
        cfg = loads(PIPELINE, [f"run.out='{shared_dir / strategy}'"])
        run_all(cfg, comm, select_backend("cpu"), quiet=True)
        out[strategy] = shared_dir / strategy
    diffs = []
    if comm.is_root:
        for name in ("samples.h5", "rbm.h5", "thermometer.h5", "flow.h5", "analysis.h5"):
            diffs += [d for d in compare_h5(out["mpio"] / name, out["root"] / name)
                      if "attribute config" not in d]  # run.out differs
        diffs += compare_json(*(json.loads((out[s] / "summary.json").read_text()) for s in ("mpio", "root")))
        with h5py.File(out["mpio"] / "flow.h5") as h5:
            diffs += [] if h5.attrs["writer"] == ("mpio" if comm.size > 1 else "root") else ["writer"]
    assert comm.all_true(not diffs), diffs
