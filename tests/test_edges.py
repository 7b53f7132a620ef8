"""Safety at the edges: one writer per run directory, write failures, sizes checked up front,
and values that used to pass validation and fail later (each exits 2 with one line, or works)."""
import contextlib
import shutil
import subprocess
import time

import numpy as np
import pytest

from hpcrbm.errors import InputError
from hpcrbm.io.lock import LOCK_NAME

from .conftest import cli_env, copy_run, hpcrbm_command, kill_session, needs_mpiexec, run_hpcrbm
from .montecarlo.test_gpu_kernels import gpu
from .stages.test_pipeline import CONFIG, summary_without_time


def one_line_error(result, *phrases):
    """Exit 2, one line on stderr (no traceback) containing every phrase."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("hpcrbm: error: "), result.stderr
    assert all(p in lines[0] for p in phrases), lines[0]


@needs_mpiexec
def test_a_second_run_on_the_same_directory_exits_2_naming_the_holder(tmp_path, write_config):
    config = write_config(CONFIG)
    out = tmp_path / "run"
    first = subprocess.Popen(hpcrbm_command(["run", config, "--out", out, "--quiet"], 2), env=cli_env(),
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (out / LOCK_NAME).exists() and time.time() < deadline:
            time.sleep(0.02)
        for command in (["run", config, "--out", out], ["train", out]):
            second = run_hpcrbm(command)
            one_line_error(second, str(out), "in use by pid", "one writer per run")
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        kill_session(first.pid)
    assert not (out / LOCK_NAME).exists()
    assert (out / "summary.json").exists()


def test_a_stale_lock_of_a_killed_run_is_taken_over(tmp_path, write_config):
    config = write_config(CONFIG.replace("epochs = 150", "epochs = 2"))
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text("pid 999999 on elsewhere since 2026-01-01T00:00:00: hpcrbm run\n")
    result = run_hpcrbm(["run", config, "--out", out])
    assert result.returncode == 0, result.stderr
    assert not (out / LOCK_NAME).exists() and (out / "summary.json").exists()


def test_a_lock_that_is_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path, write_config):
    """RUN/hpcrbm.lock -> the config: one line naming the lock, exit 2, the config unchanged (the
    lock is never opened through a link)."""
    config = write_config(CONFIG)
    text = config.read_text()
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).symlink_to(config)
    result = run_hpcrbm(["simulate", config, "--out", out])
    assert result.returncode == 2 and "a symbolic link" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and config.read_text() == text
    assert (out / LOCK_NAME).is_symlink() and not (out / "samples.h5").exists()


def test_refused_input_leaves_no_run_directory(tmp_path, write_config):
    config = write_config(CONFIG)
    (tmp_path / "first").mkdir()
    result = run_hpcrbm(["simulate", config, "--out", tmp_path / "first"])
    assert result.returncode == 0, result.stderr
    other = write_config(CONFIG.replace("seed = 21", "seed = 22"), "other.toml")
    result = run_hpcrbm(["simulate", other, "--out", tmp_path / "first"])
    one_line_error(result, "made from a different")
    result = run_hpcrbm(["train", tmp_path / "nothing"])
    assert result.returncode == 2 and not (tmp_path / "nothing").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB tmpfs (root only): a file system that can be filled."""
    disk = tmp_path / "disk"
    disk.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.decode().strip()}): needs root")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk):
    """Write a file until the disk is full; returns it."""
    filler = disk / "filler"
    # unbuffered: nothing left over for close() to fail on
    with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 2**16)
    return filler


@pytest.mark.slow
@needs_mpiexec
@pytest.mark.parametrize("ranks,failure", [(None, "full"), (2, "full"), (2, "vanished")])
def test_a_write_failure_ends_the_run_with_one_line_and_the_resume_is_identical(tmp_path, write_config, small_disk,
                                                                                ranks, failure):
    config = write_config(CONFIG)
    reference, out = tmp_path / "reference", small_disk / "run"
    assert run_hpcrbm(["run", config, "--out", reference, "--quiet"]).returncode == 0
    proc = subprocess.Popen(hpcrbm_command(["run", config, "--out", out, "--quiet"], ranks), env=cli_env(),
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / "checkpoints" / "rbm_nh4.h5").exists() and time.time() < deadline:
            time.sleep(0.01)
        if failure == "full":
            filler = fill(small_disk)
        else:
            shutil.rmtree(out)
        _, err = proc.communicate(timeout=120)
    finally:
        kill_session(proc.pid)
    cause = {"full": "No space left on device", "vanished": "No such file or directory"}[failure]
    ours = [line for line in err.splitlines() if line.startswith("hpcrbm:")]
    assert proc.returncode == 1 and "Traceback" not in err and len(err.splitlines()) < 20, err
    assert ours and all(f"cannot write {out}" in line and cause in line for line in ours), err
    assert not (out / "summary.json").exists()
    if failure == "vanished":
        return
    filler.unlink()
    assert (out / "samples.h5").exists()  # what was complete is still complete
    result = run_hpcrbm(["run", config, "--out", out], ranks=ranks)
    assert result.returncode == 0, result.stderr
    assert "samples.h5 is complete" in result.stderr
    assert summary_without_time(reference / "summary.json") == summary_without_time(out / "summary.json")


@pytest.mark.parametrize("sweep,needle", [
    ('"run.out" = ["a", "b"]', "sweep key run.out"),  # used to be silently overridden
    ('"model.L" = [4, 4]', "the value 4 appears twice"),  # used to share one directory
    ('"rbm.learning_rate" = [0.1, 0.10]', "the value 0.1 appears twice"),
])
def test_campaign_sweeps_that_would_lose_runs_are_bad_input(tmp_path, write_config, cli, sweep, needle):
    base = write_config(CONFIG)
    campaign = write_config(f'[campaign]\nbase = "{base.name}"\nout = "{tmp_path / "c"}"\n[sweep]\n{sweep}\n', "c.toml")
    for action in ("list", "run"):
        one_line_error(cli(["campaign", action, campaign]), needle)
    assert not (tmp_path / "c").exists()


def test_analyze_on_a_damaged_flow_file_is_bad_input(tmp_path, tiny_run):
    """Damaged object headers (not just a truncated file) are found before any stage reads them."""
    out = copy_run(tiny_run[0], tmp_path / "run")
    data = bytearray((out / "flow.h5").read_bytes())
    rng = np.random.default_rng(0)
    for offset in (len(data) // 4, len(data) // 2, 3 * len(data) // 4):  # inside the metadata, not the superblock
        damaged = data.copy()
        damaged[offset:offset + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
        (out / "flow.h5").write_bytes(bytes(damaged))
        (out / "analysis.h5").unlink(missing_ok=True)
        one_line_error(run_hpcrbm(["analyze", out]), "flow.h5: unreadable", f"hpcrbm flow {out}")


def test_a_run_that_cannot_fit_on_the_disk_is_refused_up_front(small_disk):
    out = small_disk / "run"
    result = run_hpcrbm(["run", "configs/demo.toml", "--out", out, "--set", "sampling.samples=20000"])
    one_line_error(result, "resources: the run needs about", "of disk", "is free")
    assert not out.exists()


@gpu
def test_the_plan_refuses_what_cannot_fit_on_the_gpu():
    from hpcrbm.backend import select_backend
    from hpcrbm.config import loads
    from hpcrbm.errors import InputError
    from hpcrbm.parallel import Communicator
    from hpcrbm.plan import check
    comm = Communicator.world()
    backend = select_backend("gpu", comm)
    free = backend.xp.cuda.Device().mem_info[0]
    replicas = free // 2**20  # of L = 1024: the point's chains and their copy need twice the free memory
    cfg = loads(f"[model]\nL = 1024\n[sampling]\ntemperatures = [2.0]\nsamples = {replicas}\n"
                f"replicas = {replicas}\nthermalize = 1\n[run]\nbackend = 'gpu'\n")
    with pytest.raises(InputError, match="GPU memory"):
        check(cfg, ["simulate"], comm, backend)


@gpu
@pytest.mark.parametrize("stage", ["train", "flow"])
def test_the_plan_refuses_rbm_stages_that_cannot_fit_on_the_gpu(stage):
    """The train stage's device arrays (its data slice, encoded) and the flow stage's chains are
    checked against the GPU's free memory before any work."""
    from hpcrbm.backend import select_backend
    from hpcrbm.config import loads
    from hpcrbm.errors import InputError
    from hpcrbm.parallel import Communicator
    from hpcrbm.plan import check
    comm = Communicator.world()
    backend = select_backend("gpu", comm)
    free = backend.xp.cuda.Device().mem_info[0]
    many = free // (4 * 2**20) + 1  # L = 1024: 4 MiB per float32 sample or per float64 flow chain / 2
    cfg = loads(f"[model]\nL = 1024\n[sampling]\ntemperatures = [2.0, 3.0]\nsamples = {many}\n[rbm]\nhidden = [4]\n"
                f"train_fraction = 1.0\n[flow]\nsamples = {many}\n[run]\nbackend = 'gpu'\n")
    with pytest.raises(InputError, match=f"the {stage} stage needs about .* of GPU memory"):
        check(cfg, [stage], comm, backend)


def test_a_users_own_hdf5_file_in_the_run_directory_is_never_overwritten(tmp_path, write_config):
    """samples.h5 (or flow.h5) of the user's own, without hpcrbm's attributes: refused in one line
    naming it, the file unchanged (before: "incomplete: rebuilding it")."""
    import h5py
    import numpy as np
    config = write_config(CONFIG.replace("epochs = 150", "epochs = 2"))
    for name in ("samples.h5", "flow.h5"):
        out = tmp_path / name.split(".")[0]
        out.mkdir()
        with h5py.File(out / name, "w") as h5:
            h5["mine"] = np.arange(5)
        result = run_hpcrbm(["run", config, "--out", out])
        assert result.returncode == 2 and "was not written by hpcrbm" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        with h5py.File(out / name, "r") as h5:
            assert list(h5) == ["mine"] and list(h5["mine"][...]) == [0, 1, 2, 3, 4]


def test_a_linked_sweep_moves_its_keys_together(tmp_path, write_config):
    from hpcrbm.campaign import load_campaign
    write_config("[model]\ndim = 2\nL = 8\n[rbm]\nhidden = [64]\n", "base.toml")
    campaign = write_config('[campaign]\nbase = "base.toml"\nout = "o"\n[sweep]\n"run.seed" = [1, 2]\n'
                            '[sweep.size]\n"model.L" = [8, 16]\n"rbm.hidden" = [[64, 16], [256, 64]]\n', "c.toml")
    runs = load_campaign(campaign).runs()
    assert [name for name, _ in runs] == ["seed1_L8", "seed1_L16", "seed2_L8", "seed2_L16"]
    cfg = load_campaign(campaign).config(3)
    assert (cfg.run.seed, cfg.model.L, cfg.rbm.hidden) == (2, 16, (256, 64))
    named = write_config('[campaign]\nbase = "base.toml"\n[sweep.grid]\n"sampling.temperatures" = [[1.0, 2.0], '
                         '[2.0, 3.0]]\nname = ["low", "high"]\n', "named.toml")
    assert [(n, o[0]) for n, o in load_campaign(named).runs()] == [("low", "sampling.temperatures=[1.0, 2.0]"),
                                                                   ("high", "sampling.temperatures=[2.0, 3.0]")]
    bad = write_config('[campaign]\nbase = "base.toml"\n[sweep.size]\n"model.L" = [8, 16]\n"rbm.hidden" = [[64]]\n',
                       "bad.toml")
    with pytest.raises(InputError, match=r"linked sweep \[sweep.size\]: every key needs a list of the same length"):
        load_campaign(bad)


def test_a_file_written_into_a_vanished_directory_is_one_line(tmp_path):
    """A file created in a directory removed before: h5py's OSError names the file and errno 2
    (write_failure's one line). Removed while HDF5 creates the file, HDF5 reports no errno ("can't
    retrieve stat info for file", seen in the 2-rank run of the test above): replaced_on_success
    makes that the WriteError "FILE: No such file or directory". Nothing is left behind."""
    import h5py

    from hpcrbm.errors import WriteError, write_failure
    from hpcrbm.io.hdf5 import replaced_on_success
    for name, error in (("before", None), ("during", OSError("Unable to create file (can't retrieve stat info for "
                                                                "file)"))):
        folder = tmp_path / name
        folder.mkdir()
        with pytest.raises(OSError if error is None else WriteError) as err, \
                replaced_on_success(folder / "rbm.h5", ".tmp") as tmp:
            shutil.rmtree(folder)
            if error is None:
                h5py.File(tmp, "w")
            raise error
        assert write_failure(err.value) == f"{folder / 'rbm.h5.tmp'}: No such file or directory"
        assert not folder.exists()
