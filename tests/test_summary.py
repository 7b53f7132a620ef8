"""summary.json through its type (io/summary.py): the same text back, and older or unknown
summaries refused with one line naming the file, its version and the command that rebuilds it."""
import json
from pathlib import Path

import pytest

from hpcrbm.errors import InputError
from hpcrbm.io.summary import SCHEMA_VERSION, Summary
from hpcrbm.posthoc import merge
from hpcrbm.report import load_runs

from .conftest import run_hpcrbm

ROOT = Path(__file__).resolve().parents[1]
STUDY = sorted(p for p in (ROOT / "docs" / "study").iterdir() if (p / "summary.json").exists())


@pytest.mark.parametrize("run", STUDY, ids=lambda p: p.name)
def test_a_summary_reads_and_writes_the_same_text(run):
    text = (run / "summary.json").read_text()
    summary = Summary.read(run)
    assert summary.schema_version == SCHEMA_VERSION and summary.model in ("ising", "potts", "clock")
    assert next(iter(json.loads(text))) == "schema_version"  # the first key, then the fields as before
    stored = json.loads(text)["schema_version"]
    if stored == SCHEMA_VERSION:
        assert summary.to_json() == text
    else:  # an older readable summary: the same values, this version's number and defaults
        assert json.loads(summary.to_json()) == {**json.loads(text), "schema_version": SCHEMA_VERSION, "rbms": []}


def _write(run_dir, text):
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(text)
    return run_dir


@pytest.mark.parametrize("change, version", [
    (lambda d: d.pop("schema_version"), "without schema_version"),
    (lambda d: d.update(schema_version=99), "of schema_version 99"),
    (lambda d: d.pop("flows"), "with no flows"),
])
def test_an_older_or_unknown_summary_is_refused(tmp_path, change, version):
    data = json.loads((STUDY[0] / "summary.json").read_text())
    change(data)
    run = _write(tmp_path / "old", json.dumps(data, indent=2, allow_nan=True))
    for read in (Summary.read, lambda r: load_runs([r]), lambda r: merge([r], tmp_path / "m.csv")):
        with pytest.raises(InputError) as err:
            read(run)
        line = str(err.value)
        assert len(line.splitlines()) == 1 and str(run / "summary.json") in line and version in line
        assert f"re-run hpcrbm analyze {run}" in line


def test_unreadable_or_missing_summary_is_refused(tmp_path):
    run = _write(tmp_path / "bad", "{not json")
    with pytest.raises(InputError, match=r"bad/summary.json: a summary unreadable .*re-run hpcrbm analyze"):
        Summary.read(run)
    with pytest.raises(InputError, match=r"summary.json: missing or unreadable; run hpcrbm analyze"):
        Summary.read(tmp_path / "none")


def test_the_report_command_refuses_an_older_summary_in_one_line(tmp_path):
    data = json.loads((STUDY[0] / "summary.json").read_text())
    del data["schema_version"]
    run = _write(tmp_path / "old", json.dumps(data, indent=2, allow_nan=True))
    result = run_hpcrbm(["report", run, "--out", tmp_path / "r.md"])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "summary.json" in result.stderr and "schema_version" in result.stderr and "hpcrbm analyze" in result.stderr


def test_summary_json_is_strict_json_and_reads_tc_back_as_nan():
    """Numbers that are not finite are written as null (strict JSON: any JSON reader), and the
    top-level tc (no transition known) is read back as NaN; a schema_version 1 summary (NaN) is
    read too."""
    import math
    summary = Summary.read(STUDY[0])
    summary.tc = math.nan
    summary.validation = {**summary.validation, "extra": [math.nan, math.inf, 1.5]}
    text = summary.to_json()
    data = json.loads(text, parse_constant=lambda c: 1 / 0)
    assert data["tc"] is None and data["validation"]["extra"] == [None, None, 1.5]
    back = Summary.from_json(text)
    assert math.isnan(back.tc)
    old = json.loads(text)
    old.update(schema_version=1, tc=math.nan)
    assert math.isnan(Summary.from_json(json.dumps(old)).tc)
