"""The stage registry is the one source of stage facts: a stage added there alone is run, planned
and reported; a stage's results version and the backend's arithmetic are part of every fingerprint
below it, so a file made by other code or on another device is rebuilt; and the numbers each
stage produces today are pinned to its results version."""
import dataclasses
import hashlib
import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest

import hpcrbm.stages
from hpcrbm import campaign, cli
from hpcrbm.backend import Backend, select_backend
from hpcrbm.config import loads
from hpcrbm.errors import InputError
from hpcrbm.parallel import Communicator
from hpcrbm.pipeline import run_all, run_stage, run_status, upstream
from hpcrbm.protocol.stage import Stage, StageNeeds
from hpcrbm.stages import registered, stage_named

from .test_stages import CONFIG, FILES

NUMERICS = Path(__file__).with_name("numerics.toml")


def _count_positive(ctx):
    """The dummy stage: counts the positive magnetisations of samples.h5 into count.h5."""
    with h5py.File(ctx.path("samples.h5"), "r") as h5:
        positive = int((h5["observables/magnetization"][...] > 0).sum())
    with ctx.writing() as f:
        f.create_global("positive", np.array([positive]))


DUMMY = Stage("count", "count.h5", sections=("sampling",), reads=("simulate",), compute=_count_positive,
              required=lambda cfg: ["positive"], arithmetic=False, summary="a dummy stage",
              needs=lambda cfg, ranks, upstream: StageNeeds("count", 1000, {"count.h5": 4096}, "one count"))


@pytest.fixture
def with_dummy(monkeypatch):
    monkeypatch.setattr(hpcrbm.stages, "STAGES", hpcrbm.stages.STAGES + (DUMMY,))



def test_a_stage_added_to_the_registry_alone_is_run_planned_and_reported(with_dummy, tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    out = tmp_path / "run"
    assert cli.main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    with h5py.File(out / "count.h5") as h5:
        assert h5.attrs["complete"] and h5.attrs["stage"] == "count" and h5["positive"][0] > 0
    assert cli.main(["count", str(out), "--quiet"]) == 0  # its own command: nothing to do
    capsys.readouterr()
    assert cli.main(["plan", str(config), "--out", str(out), "--no-bench"]) == 0
    plan = capsys.readouterr().out
    assert "count" in plan and "one count" in plan and "count.h5" in plan
    camp = tmp_path / "camp.toml"
    camp.write_text(f'[campaign]\nbase = "config.toml"\nout = "{tmp_path / "camp"}"\n[sweep]\n"run.seed" = [31]\n')
    rows = campaign.status(campaign.load_campaign(camp))
    assert "count.h5" in rows[0] and "count.h5" in campaign.format_status(rows)
    cfg = loads(CONFIG, [f"run.out={out}"])
    assert campaign.status(campaign.load_campaign(camp))[0]["done"] is False
    assert run_status(cfg) == {**{name: True for name in (*FILES, "count.h5")}, "done": True}


def _run(tmp_path, backend=None, name="run"):
    cfg = loads(CONFIG, [f"run.out={tmp_path / name}"])
    run_all(cfg, Communicator(None), backend or select_backend("cpu"), quiet=True)
    return tmp_path / name


def _made(run):
    """{file: its end_time and the inode: what tells a rebuilt file from a kept one}."""
    out = {}
    for name in FILES:
        with h5py.File(run / name) as h5:
            out[name] = (h5.attrs["end_time"], (run / name).stat().st_ino)
    return out


@pytest.mark.parametrize("changed, rebuilt", [
    ("train", {"rbm.h5", "flow.h5", "analysis.h5"}),
    ("analyze", {"analysis.h5"}),
    ("thermometer", {"thermometer.h5", "flow.h5", "analysis.h5"}),
])
def test_a_new_results_version_rebuilds_that_stage_and_those_below_it(monkeypatch, tmp_path, changed, rebuilt):
    run = _run(tmp_path)
    before = _made(run)
    new = tuple(dataclasses.replace(s, version=s.version + 1) if s.name == changed else s for s in registered())
    monkeypatch.setattr(hpcrbm.stages, "STAGES", new)
    if changed == "train":  # a stage's own command refuses to read a file of other code
        cfg = loads(CONFIG, [f"run.out={run}"])
        was = stage_named("train").version - 1
        refusal = rf"rbm.h5: made by other code \(train v{was}; this code makes train v{was + 1}\)"
        with pytest.raises(InputError, match=refusal):
            run_stage(stage_named("flow"), cfg, Communicator(None), select_backend("cpu"), quiet=True,
                      standalone=True)
    _run(tmp_path)
    after = _made(run)
    assert {name for name in FILES if after[name] != before[name]} == rebuilt


def test_a_gpu_made_file_is_rebuilt_by_a_cpu_run(runner, tmp_path):
    """The emulated device writes the CPU's numbers, but its files say "arithmetic = gpu": a CPU
    run keeps the Monte Carlo (the same on both) and recomputes every stage whose numbers depend
    on the device's rounding; the stage's own command refuses to read them."""
    run = _run(tmp_path, Backend("gpu", np, "emulated", runner))
    before = _made(run)
    cfg = loads(CONFIG, [f"run.out={run}"])
    refusal = r"rbm.h5: made with gpu arithmetic \(this run computes on cpu\); run hpcrbm train "
    with pytest.raises(InputError, match=refusal):
        run_stage(stage_named("flow"), cfg, Communicator(None), select_backend("cpu"), quiet=True, standalone=True)
    _run(tmp_path)
    after = _made(run)
    assert {name for name in FILES if after[name] != before[name]} == set(FILES) - {"samples.h5"}
    with h5py.File(run / "rbm.h5") as h5:
        assert h5.attrs["backend"] == "cpu" and "arithmetic = cpu" in h5.attrs["inputs"]


def results_digest(path):
    """SHA-256 of every dataset of an HDF5 file (name, dtype, shape, bytes), in name order:
    the numbers, not the provenance."""
    digest = hashlib.sha256()
    with h5py.File(path, "r") as h5:
        names = []
        h5.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in sorted(names):
            value = np.ascontiguousarray(h5[name][()])
            digest.update(f"{name} {value.dtype.str} {value.shape}\n".encode())
            digest.update(value.tobytes() if value.dtype.kind != "O" else repr(value.tolist()).encode())
    return digest.hexdigest()[:16]


def test_numbers_change_only_with_the_results_version(tmp_path):
    """Each stage's numbers for this run are recorded in numerics.toml beside its results version.
    A change of the code that alters a stage's numbers must raise that stage's ``version`` (its
    files of older code are then rebuilt, and those of the stages below it) and record the new
    digests here; a stage whose numbers changed while neither its version nor that of a stage
    above it changed fails this test."""
    run = _run(tmp_path)
    recorded = tomllib.loads(NUMERICS.read_text()) if NUMERICS.exists() else {}
    now = {s.name: {"version": s.version, "digest": results_digest(run / s.output)} for s in registered()}
    stale = [f"{name}: version {now[name]['version']}, digest {now[name]['digest']}"
             for name in now if recorded.get(name) != now[name]]
    new_version = {name for name in now if name not in recorded or recorded[name]["version"] != now[name]["version"]}
    silent = [s.name for s in registered() if s.name in recorded and recorded[s.name]["digest"] != now[s.name]["digest"]
              and not ({s.name} | {u.name for u in upstream(s)}) & new_version]
    assert not silent, (f"the numbers of {silent} changed without a new results version: raise Stage.version "
                        f"in hpcrbm/stages/ and record {stale} in {NUMERICS.name}")
    assert not stale, f"record the new results of {stale} in {NUMERICS.name}"
