"""The study's new series (issue 27) in short, through the same code: configs/study/lsize.toml
(L series) and trainset.toml (training-set series) cut down to seconds, run as campaigns, then
reported: the sections "The end point against L" (with the 1/L fits) and "The end point against
the training set" (with where the ends lie), and every verdict row saying how its RBMs were
trained, in cells of at most 250 characters; and the new single run, configs/study/potts3.toml."""
import json
import tomllib
from pathlib import Path

import pytest

from hpcrbm.config import load, to_toml, toml_value

from .conftest import run_hpcrbm

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "configs" / "study"
SHORT = {"sampling.samples": 100, "sampling.thermalize": 100, "rbm.epochs": 40, "rbm.patience": 10,
         "rbm.seeds": 2, "flow.samples": 20, "flow.steps": 10, "thermometer.epochs": 2}


def short_campaign(tmp_path, name, axes):
    """A copy of configs/study/NAME.toml whose base is the study's base config with SHORT's values,
    with ``axes`` (TOML text of its [sweep] tables, or None for the file's own); returns its path."""
    own = tomllib.loads((STUDY / f"{name}.toml").read_text())
    base = tmp_path / f"{name}_base.toml"
    base.write_text(to_toml(load(STUDY / own["campaign"]["base"], [f"{k}={toml_value(v)}" for k, v in SHORT.items()])))
    lines = ["[campaign]", f'name = "{name}"', f"base = {toml_value(str(base))}",
             f"out = {toml_value(str(tmp_path / name))}", "[sweep]"]
    if axes is None:
        for axis, table in own["sweep"].items():
            lines.append(f"[sweep.{axis}]")
            lines += [f'"{k}" = {toml_value(v)}' for k, v in table.items()]
    else:
        lines.append(axes)
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def verdict_cells(text):
    table = text.split("## Verdicts")[1].split("## Evidence per claim")[0]
    return [c.strip() for line in table.splitlines() if line.startswith("| ") for c in line.strip("|").split("|")]


@pytest.mark.slow
def test_the_l_and_training_set_series_in_short_run_and_are_reported(tmp_path):
    sizes = short_campaign(tmp_path, "lsize", '[sweep.size]\n"model.L" = [4, 6, 8]\n'
                                              '"rbm.hidden" = [[16, 4], [36, 9], [64, 16]]')
    grids = short_campaign(tmp_path, "trainset", None)
    for campaign in (sizes, grids):
        result = run_hpcrbm(["campaign", "run", campaign, "--quiet"], timeout=1200)
        assert result.returncode == 0, result.stderr
    runs = sorted(p for p in tmp_path.glob("*/*") if (p / "summary.json").exists())
    assert len(runs) == 3 + 5
    record = json.loads((runs[0] / "summary.json").read_text())["rbms"]
    assert len(record) == 2 * 2 and all(r["stopped_by"] in ("plateau", "epochs") for r in record)
    out = tmp_path / "report.md"
    result = run_hpcrbm(["report", *runs, "--out", out])
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    size = text.split("## The end point against L")[1].split("\n## ")[0]
    assert "| c maximum | " in size and "| end, N_h / N_v = 1, sample | " in size
    assert "T(L) = T_inf + a / L" in size and "Read: the c maximum do" in size and " end series, " in size
    grid = text.split("## The end point against the training set")[1].split("\n## ")[0]
    for name in ("symmetric", "below", "above", "uniform_T", "uniform_beta"):
        assert f"| {name} | " in grid
    assert "closest to Tc / median / mean" in grid and "Read: the end's slope against the grid's median" in grid
    assert {p.name for p in (tmp_path / "report_figures").iterdir()} == {"ends_vs_tc.png", "ends_vs_size.png",
                                                                         "ends_vs_grid.png"}
    cells = verdict_cells(text)
    assert max(map(len, cells)) <= 250, max(cells, key=len)
    assert all("seed(s) per N_h" in line or "| - |" in line or "not measured" in line
               for line in text.split("## Verdicts")[1].split("## Evidence")[0].splitlines() if line.startswith("| T")
               or line.startswith("| R"))


def test_the_committed_report_fits_one_screen():
    cells = verdict_cells((ROOT / "docs" / "results.md").read_text())
    assert cells and max(map(len, cells)) <= 250, max(cells, key=len)


@pytest.mark.slow
def test_the_new_potts3_study_run_in_short_trains_every_seed_and_reports_how(tmp_path):
    """configs/study/potts3.toml (new in issue 27; its siblings differ only in q or the model's
    kind), cut down like the series: every N_h x seed trained to the plateau rule or the cap,
    and the report's rows saying so. The critique's short run is in test_report.py."""
    config = load(STUDY / "potts3.toml")
    assert config.rbm.stop == "plateau" and config.rbm.seeds == 3
    overrides = [arg for k, v in {**SHORT, "analysis.window": 2}.items() for arg in ("--set", f"{k}={toml_value(v)}")]
    run = tmp_path / "potts3"
    result = run_hpcrbm(["run", STUDY / "potts3.toml", "--out", run, "--quiet", *overrides], timeout=600)
    assert result.returncode == 0, result.stderr
    record = json.loads((run / "summary.json").read_text())["rbms"]
    assert len(record) == 2 * len(config.rbm.hidden)
    assert all(r["stopped_by"] in ("plateau", "epochs") and r["epochs"] <= 40 for r in record)
    assert all(r["epochs"] == 40 for r in record if r["stopped_by"] == "epochs")
    out = tmp_path / "report.md"
    assert run_hpcrbm(["report", run, "--out", out]).returncode == 0
    rows = [c for c in verdict_cells(out.read_text()) if "seed(s) per N_h" in c]
    assert rows and all(c.startswith("2 seed(s) per N_h") for c in rows), rows
