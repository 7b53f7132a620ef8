"""Nothing a user computed is lost or faked (issue 26): summary.json and the figures are checked
against analysis.h5 like the stage files (a copied, garbled, deleted or stale one is rebuilt, and
the run is not called done before), and a finished file that a changed config would replace is
moved to RUN/replaced/STAMP/ with a WARNING line that --quiet keeps."""
import json
import shutil

import h5py
import pytest

from hpcrbm.analysis.figures import FIGURE_STAMP
from hpcrbm.config import load
from hpcrbm.io.png import png_text
from hpcrbm.pipeline import REPLACED, run_status

from ..conftest import copy_run, needs_mpiexec, run_hpcrbm


def _figures(run):
    with h5py.File(run / "analysis.h5") as h5:
        return json.loads(h5.attrs["figures"])


def _stamped_png(path, stamp):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(path, format="png", metadata={FIGURE_STAMP: stamp})
    plt.close(fig)


def _damage(run, how):
    summary = run / "summary.json"
    first = run / "figures" / f"{_figures(run)[0]}.png"
    if how == "garbled summary":
        summary.write_text("{garbage")
    elif how == "empty summary":
        summary.write_text("")
    elif how == "summary of another run":  # valid JSON of this schema, another number
        data = json.loads(summary.read_text())
        data["flows"][0]["specific_heat_peak"] = 1.234
        summary.write_text(json.dumps(data, indent=2))
    elif how == "summary deleted":
        summary.unlink()
    elif how == "figure deleted":
        first.unlink()
    elif how == "figure damaged":
        data = bytearray(first.read_bytes())
        data[len(data) // 2] ^= 0xFF
        first.write_bytes(bytes(data))
    elif how == "figure of another analysis":
        _stamped_png(first, "0123456789abcdef")


@pytest.mark.parametrize("how", ["garbled summary", "empty summary", "summary of another run", "summary deleted",
                                 "figure deleted", "figure damaged", "figure of another analysis"])
def test_summary_and_figures_not_of_this_analysis_are_rebuilt(tmp_path, tiny_run, how):
    run = copy_run(tiny_run[0], tmp_path / "run")
    cfg = load(tiny_run[1], [f"run.out='{run}'"])
    assert run_status(cfg)["done"]
    _damage(run, how)
    assert not run_status(cfg)["done"]  # campaign status does not call it done
    result = run_hpcrbm(["run", tiny_run[1], "--out", run])
    assert result.returncode == 0, result.stderr
    assert "analysis.h5 is complete" not in result.stderr and "rbm.h5 is complete" in result.stderr
    assert run_status(cfg)["done"]
    original = json.loads((tiny_run[0] / "summary.json").read_text())
    rebuilt = json.loads((run / "summary.json").read_text())
    for data in (original, rebuilt):
        data.pop("created"), data["run_time"].pop("analyze")
    assert rebuilt == original  # the same analysis, recomputed
    with h5py.File(run / "analysis.h5") as h5:
        stamp = png_text(run / "figures" / f"{_figures(run)[0]}.png")[FIGURE_STAMP]
        assert json.loads(h5.attrs["summary"]) == json.loads((run / "summary.json").read_text())
    assert len(stamp) == 16
    assert not list(run.glob("figures/*.tmp")) and not (run / "summary.json.tmp").exists()


def test_redraw_gives_figures_that_the_check_accepts(tmp_path, tiny_run):
    run = copy_run(tiny_run[0], tmp_path / "run")
    cfg = load(tiny_run[1], [f"run.out='{run}'"])
    (run / "figures" / f"{_figures(run)[0]}.png").unlink()
    assert run_hpcrbm(["redraw", run]).returncode == 0
    assert run_status(cfg)["done"]


def test_finished_files_of_other_settings_are_moved_aside_not_replaced(tmp_path, tiny_run):
    run = copy_run(tiny_run[0], tmp_path / "run")
    before = {name: (run / name).read_bytes() for name in ("rbm.h5", "flow.h5", "analysis.h5", "summary.json")}
    figures = sorted(p.name for p in (run / "figures").iterdir())
    result = run_hpcrbm(["run", tiny_run[1], "--out", run, "--set", "rbm.learning_rate=0.02", "--quiet"])
    assert result.returncode == 0, result.stderr
    folders = list((run / REPLACED).iterdir())
    assert len(folders) == 1  # one folder for the whole command
    for name, data in before.items():
        assert (folders[0] / name).read_bytes() == data, name
    assert sorted(p.name for p in (folders[0] / "figures").iterdir()) == figures
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line and "moved it" in line]
    assert [w.split(": ", 1)[1].split(" ", 1)[0].rsplit("/", 1)[1] for w in warnings] == [
        "rbm.h5", "flow.h5", "analysis.h5"], result.stderr  # thermometer.h5 reads samples.h5 alone
    assert "made from another config" in warnings[0] and str(folders[0]) in warnings[0]
    with h5py.File(run / "rbm.h5") as h5:
        assert "learning_rate = 0.02" in h5.attrs["config"]
    assert run_status(load(tiny_run[1], [f"run.out='{run}'", "rbm.learning_rate=0.02"]))["done"]


@needs_mpiexec
def test_on_several_ranks_a_file_moved_aside_is_said_once(tmp_path, tiny_run):
    """The move is one collective decision: one WARNING line per file, from rank 0."""
    run = copy_run(tiny_run[0], tmp_path / "run")
    result = run_hpcrbm(["run", tiny_run[1], "--out", run, "--set", "rbm.learning_rate=0.03", "--quiet"], ranks=2)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "moved it" in line]
    assert len(warnings) == 3 and all(w.startswith("hpcrbm [0/2] WARNING") for w in warnings), result.stderr


def _first_dataset(path, prefix):
    with h5py.File(path) as h5:
        names = []
        h5.visititems(lambda name, node: names.append(name) if isinstance(node, h5py.Dataset) else None)
    return next(n for n in sorted(names) if n.split("/")[-1].startswith(prefix))


def test_a_corrupted_value_in_the_samples_is_refused_in_one_line(tmp_path, tiny_run):
    run = copy_run(tiny_run[0], tmp_path / "run")
    name = _first_dataset(run / "samples.h5", "configs")
    with h5py.File(run / "samples.h5", "r+") as h5:
        spins = h5[name][...]
        spins.flat[7] = 127
        h5[name][...] = spins
    result = run_hpcrbm(["run", tiny_run[1], "--out", run])
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1] == f"hpcrbm: error: {run / 'samples.h5'}: exists but damaged (/{name} fails its checksum); " \
                        "remove it to simulate again", result.stderr
    assert "Traceback" not in result.stderr


def test_a_corrupted_weight_is_found_and_the_rbm_retrained_to_the_same_bits(tmp_path, tiny_run):
    run = copy_run(tiny_run[0], tmp_path / "run")
    name = "rbm/nh4/W"
    with h5py.File(run / "rbm.h5", "r+") as h5:
        w = h5[name][...]
        w.flat[0] += 1.0
        h5[name][...] = w
    result = run_hpcrbm(["run", tiny_run[1], "--out", run])
    assert result.returncode == 0, result.stderr
    assert f"rbm.h5 damaged (/{name} fails its checksum): rebuilding it" in result.stderr
    with h5py.File(run / "rbm.h5") as h5, h5py.File(tiny_run[0] / "rbm.h5") as original:
        assert (h5[name][...] == original[name][...]).all()
        assert h5.attrs["checksums"] == original.attrs["checksums"]


def test_a_figure_that_cannot_be_written_is_named_in_one_line(tmp_path, tiny_run, monkeypatch):
    """A full disk while the figures are drawn: WriteError "FIGURE: cause" (the command line's one
    line, exit 1), no half-written figure or temporary file left."""
    import errno

    from matplotlib.figure import Figure

    from hpcrbm.errors import WriteError
    from hpcrbm.parallel import Communicator
    from hpcrbm.posthoc import redraw
    run = copy_run(tiny_run[0], tmp_path / "run")
    shutil.rmtree(run / "figures")

    def full(self, path, **kwargs):
        with open(path, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Figure, "savefig", full)
    with pytest.raises(WriteError) as err:
        redraw(run, Communicator.world())
    assert str(err.value).startswith(str(run / "figures")) and str(err.value).endswith(
        ".png: No space left on device"), err.value
    assert not list((run / "figures").iterdir())
