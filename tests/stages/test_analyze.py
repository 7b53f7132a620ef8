"""``hpcrbm analyze RUN_DIR``: summary.json structure, analysis.h5, figures."""
import json
import shutil

import h5py
import numpy as np

from hpcrbm.analysis.attractors import VERDICTS
from hpcrbm.io.summary import SCHEMA_VERSION, Summary

from ..conftest import run_hpcrbm
from .test_flow import trained  # noqa: F401 - module fixture


def test_analyze_writes_summary_analysis_and_figures(trained, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    for stage in ("flow", "analyze"):
        result = run_hpcrbm([stage, run, "--quiet"] if stage == "flow" else [stage, run])
        assert result.returncode == 0, result.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["schema_version"] == SCHEMA_VERSION
    assert Summary.read(run).to_json() == (run / "summary.json").read_text()  # written through the type
    assert summary["tc"] == np.float64(2 / np.log(1 + np.sqrt(2)))
    flows = summary["flows"]
    assert {(f["nh"], f["field"], f["mode"]) for f in flows} == {(4, h, m) for h in (0.0, 0.5)
                                                                  for m in ("mean-field", "sample")}
    for f in flows:
        for label in ("energy", "magnetization"):
            point = f["fixed_point"][label]
            assert point["verdict"] in VERDICTS and point["branches"]
            assert (point["T"] is not None) == (point["verdict"] == "fixed point")
            starts = sorted(s for b in point["branches"] for s in b["starts"])
            assert len(starts) == 3 + 2 and all(0 < b["T"] < 20 for b in point["branches"])  # 3 MC + up + random
        assert "nn" in f["fixed_point"] and f["specific_heat_peak"]["T"] > 0
    zero = [f for f in flows if f["field"] == 0.0][0]
    assert zero["specific_heat_peak"]["source"] == "kaufman"
    for f in flows:  # the run's own maximum, reweighted, beside the exact one (transfer matrix at H = 0.5)
        peak = f["specific_heat_peak"]
        assert peak["exact_source"] == ("kaufman" if f["field"] == 0 else "transfer matrix")
        assert peak["monte_carlo"]["err"] > 0 and abs(peak["monte_carlo"]["T"] - peak["exact"]) < 1.0
    assert "monte_carlo" in summary["exponents"]
    check = summary["validation"]
    assert len(check["checks"]) == 12 and check["failed"] == 0  # 3 temperatures x 2 fields, u and c
    assert {c["H"] for c in check["checks"]} == {0.0, 0.5}  # Kaufman at H = 0, the transfer matrix at H = 0.5
    assert {c["control"] for c in summary["controls"]} == {"random", "extremes"}
    assert all(0 < b["T"] < 10 for c in summary["controls"] for b in c["fixed_point"]["nn"]["branches"])
    assert 0 <= summary["nn_thermometer"][0]["accuracy"] <= 1
    assert summary["rg"]["block_spin"]["2"][0]["T"] == 1.5
    assert abs(summary["rg"]["talk_recursion_fixed_point_K"] - 0.507) < 1e-3
    with h5py.File(run / "analysis.h5") as h5:
        assert h5.attrs["complete"] and len(h5["fixed_points/nh"]) == 4
        assert Summary.from_json(h5.attrs["summary"]).to_json() == (run / "summary.json").read_text()
    figures = sorted(p.name for p in (run / "figures").glob("*.png"))
    assert {"mc_observables.png", "flow_temperatures.png", "fixed_points_vs_nh.png",
            "fixed_points_vs_field.png", "rbm_flow_vs_rg.png", "thermometer_calibration.png",
            "nn_histograms.png"} <= set(figures)


def test_analyze_without_flow_is_bad_input(tmp_path):
    result = run_hpcrbm(["analyze", tmp_path])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
