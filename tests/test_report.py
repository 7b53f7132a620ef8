"""`hpcrbm report`: docs/results.md is the report of the committed study summaries, byte for byte."""
import json
from pathlib import Path

from hpcrbm.report import load_runs, render

from .conftest import run_hpcrbm

ROOT = Path(__file__).resolve().parents[1]
STUDY = sorted(p for p in (ROOT / "docs" / "study").iterdir() if (p / "summary.json").exists())


def test_docs_results_is_the_generated_report():
    """The documentation can never disagree with what the code produces from the summaries:
    regenerate it with `hpcrbm report docs/study/* --out docs/results.md`."""
    assert STUDY
    text = render(load_runs(STUDY), ROOT / "docs" / "results.md")
    assert (ROOT / "docs" / "results.md").read_text() == text


def test_report_names_a_verdict_per_claim_and_refuses_a_missing_summary(tmp_path):
    out = tmp_path / "report.md"
    result = run_hpcrbm(["report", *STUDY, "--out", out])
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "| The Monte Carlo samples the model" in text and "| RBM flows end at Tc, from any start" in text
    assert all(p.name in text for p in STUDY)
    bad = run_hpcrbm(["report", tmp_path, "--out", out])
    assert bad.returncode == 2 and "summary.json" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


SHORT = ["--set", "rbm.epochs=6", "--set", "rbm.snapshots=[2]", "--set", "sampling.samples=100", "--set",
         "sampling.thermalize=100", "--set", "thermometer.epochs=2", "--set", "flow.samples=50", "--set",
         "flow.steps=8", "--set", "analysis.window=2", "--set", "thermometer.hidden=[16, 8]"]


def test_the_critique_study_in_short_runs_through_the_same_code_to_a_verdict(tmp_path):
    """configs/study/critique.toml, cut down (6 epochs, 100 samples): three training seeds, no biases,
    random signs, the report's m* row judged from the seeds' end states."""
    run = tmp_path / "critique"
    result = run_hpcrbm(["run", ROOT / "configs" / "study" / "critique.toml", "--out", run, "--quiet", *SHORT])
    assert result.returncode == 0, result.stderr
    summary = json.loads((run / "summary.json").read_text())
    flows = [f for f in summary["flows"] if f["mode"] == "sample"]
    end = flows[0]["end_state"]["random"]["abs_magnetization"]
    assert flows[0]["seeds"] == 3 and len(end["per_seed"]) == 3 and end["spread"] is not None
    assert set(summary["run_time"]) == {"simulate", "train", "thermometer", "flow", "analyze"}
    out = tmp_path / "report.md"
    assert run_hpcrbm(["report", run, "--out", out]).returncode == 0
    row = next(line for line in out.read_text().splitlines() if "ends at m* = 0.6507" in line)
    assert f"m* = {end['mean']:.4f}" in row and ("| reproduced |" in row or "| not reproduced |" in row)


def test_summary_fits_a_screen_and_report_without_out_prints(tmp_path):
    """`hpcrbm summary RUN_DIR`: the demo's results in at most 40 lines, every RBM and control row
    there; `hpcrbm report RUN_DIR` without --out prints the Markdown and writes no file."""
    demo = ROOT / "docs" / "study" / "demo"
    result = run_hpcrbm(["summary", demo], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    s = load_runs([demo])[0][1]
    assert len(lines) <= 40 and lines[0].startswith("demo: ising 2D L = 10")
    assert sum(line.lstrip().startswith(("N_h", "control")) for line in lines) == len(s.flows) + len(s.controls)
    printed = run_hpcrbm(["report", demo], cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout.startswith("# Reproduction report")
    assert not list(tmp_path.iterdir())


def test_the_monte_carlo_verdict_is_calibrated_on_the_z_distribution():
    """Normal z-scores pass even with one beyond 4 among hundreds; too many beyond 3 fail; the
    same samples in two runs count once; a run without exact results says so."""
    import copy
    import math

    from hpcrbm.report import claim_monte_carlo_exact, poisson_tail
    assert poisson_tail(0, 2.0) == 1.0 and math.isclose(poisson_tail(1, 2.0), 1 - math.exp(-2.0))
    (run, s), = load_runs([ROOT / "docs" / "study" / "demo"])

    def with_z(zs, name):
        t = copy.deepcopy(s)
        t.validation["checks"] = [{"T": 1.0 + i, "H": 0.0, "observable": "energy", "value": float(i), "err": 1.0,
                                   "z": z} for i, z in enumerate(zs)]
        return run.with_name(name), t
    rng = __import__("numpy").random.default_rng(3)
    normal = list(rng.normal(size=400)) + [4.2]
    assert claim_monte_carlo_exact([with_z(normal, "a")]).verdict == "reproduced"
    assert claim_monte_carlo_exact([with_z(normal, "a"), with_z(normal, "b")]).verdict == "reproduced"  # counted once
    wide = list(rng.normal(size=400) * 1.6)  # error bars 1.6 times too small
    assert claim_monte_carlo_exact([with_z(wide, "a")]).verdict == "not reproduced"
    row = claim_monte_carlo_exact([with_z(normal, "a"), with_z([], "none")])
    assert "none: no exact result applies (no check)" in row.parts


def test_report_out_a_directory_and_a_file_named_figures_are_one_line_errors(tmp_path):
    result = run_hpcrbm(["report", ROOT / "docs" / "study" / "demo", "--out", tmp_path])
    assert result.returncode == 2 and "a directory" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_a_run_without_a_known_tc_is_reported(tmp_path):
    """A summary whose tc is null (no transition known: schema 2 writes null for NaN): the report
    and the one-screen summary work, exit 0 (the probe's TypeError)."""
    data = json.loads((ROOT / "docs" / "study" / "demo" / "summary.json").read_text())
    data["tc"] = None
    run = tmp_path / "notc"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps(data, indent=2))
    for args in (["report", run, "--out", tmp_path / "r.md"], ["summary", run]):
        result = run_hpcrbm(args)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
