"""`hpcrbm report`: docs/results.md is the report of the committed study summaries, byte for byte."""
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
