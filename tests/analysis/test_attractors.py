"""The verdict on flows whose answer is known by construction."""
import numpy as np
import pytest

from hpcrbm.analysis.attractors import classify_flows

STEPS = 40
t = np.arange(STEPS + 1)


def flows(targets, starts, rate=0.3, noise=0.01, seed=0):
    """Flows relaxing from ``starts`` to ``targets`` with readings of error ``noise``."""
    rng = np.random.default_rng(seed)
    starts, targets = np.asarray(starts, float)[:, None], np.asarray(targets, float)[:, None]
    T = targets + (starts - targets) * np.exp(-rate * t) + rng.normal(0, noise, (len(starts), len(t)))
    return T, np.full_like(T, noise)


def labels(n):
    return [f"s{i}" for i in range(n)]


def test_flows_that_meet_have_a_fixed_point():
    starts = np.linspace(0.5, 6.0, 12)
    T, dT = flows(np.full(12, 2.27), starts)
    out = classify_flows(T, dT, labels(12))
    assert out["verdict"] == "fixed point" and out["T"] == pytest.approx(2.27, abs=0.02)
    assert 0 < out["err"] < 0.02 and len(out["branches"]) == 1 and not out["moving_starts"]
    assert 10 <= out["convergence_step"] <= 30  # |6 - 2.27| e^{-0.3 t} < 3 x 0.014 + 0.02 from t ~ 14 on


def test_the_error_of_a_fixed_point_contains_the_spread_over_training_seeds():
    """Three independently trained RBMs whose flows end 0.01 apart (within the tolerance), each
    from 6 starts: one fixed point at the mean of the seeds' means, error at least s_G / sqrt(G)."""
    seed_targets = [2.26, 2.27, 2.28]
    parts = [flows(np.full(6, target), np.linspace(0.5, 6.0, 6), noise=0.005, seed=i)
             for i, target in enumerate(seed_targets)]
    T, dT = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    groups = np.repeat([0, 1, 2], 6)
    one = classify_flows(T, dT, labels(18))
    out = classify_flows(T, dT, labels(18), groups=groups)
    assert out["verdict"] == one["verdict"] == "fixed point" and out["seeds"] == 3
    assert out["T"] == pytest.approx(2.27, abs=0.01) and out["seed_spread"] == pytest.approx(0.01, abs=0.005)
    assert out["err"] >= out["seed_spread"] / np.sqrt(3) > one["err"]  # pooled starts understate it
    assert "training seeds" in out["error_contains"]


def test_flows_that_stay_apart_are_separate_attractors_with_their_starts():
    starts = np.linspace(0.5, 6.0, 10)
    targets = np.where(starts < 2.5, 1.8, 2.9)
    T, dT = flows(targets, starts)
    out = classify_flows(T, dT, labels(10))
    assert out["verdict"] == "separate attractors" and out["T"] is None
    low, high = out["branches"]
    assert low["T"] == pytest.approx(1.8, abs=0.02) and high["T"] == pytest.approx(2.9, abs=0.02)
    assert low["starts"] == [f"s{i}" for i in range(10) if starts[i] < 2.5]
    assert high["starts"] == [f"s{i}" for i in range(10) if starts[i] >= 2.5]


def test_a_band_of_end_points_is_not_a_fixed_point():
    starts = np.linspace(0.5, 6.0, 30)
    T, dT = flows(1.6 + 0.04 * np.arange(30), starts)  # neighbours within errors, ends 1.2 apart
    out = classify_flows(T, dT, labels(30))
    assert out["verdict"] == "stopped, not met" and out["T"] is None and len(out["branches"]) == 1


def test_flows_still_moving_are_said_to_be():
    starts = np.linspace(0.5, 6.0, 8)
    T, dT = flows(np.full(8, 2.27), starts, rate=0.02)  # e-folding time 50 steps > 40 steps
    out = classify_flows(T, dT, labels(8))
    assert out["verdict"] == "still moving" and out["T"] is None and out["convergence_step"] is None
    assert {"s0", "s7"} <= set(out["moving_starts"])  # the starts farthest from 2.27 still move
    drifting = np.vstack([np.full((1, STEPS + 1), 2.0), 2.0 + 0.01 * t[None, :]])
    out = classify_flows(drifting, np.full_like(drifting, 0.001), ["a", "b"])
    assert out["verdict"] == "still moving" and "b" in out["moving_starts"]


def test_too_short_and_non_finite():
    assert classify_flows(np.ones((3, 1)), np.zeros((3, 1)), labels(3))["verdict"] == "too short"
    T, dT = flows(np.full(3, 2.0), [1.0, 2.0, 3.0])
    T[1, -1] = np.nan
    out = classify_flows(T, dT, labels(3))
    assert out["verdict"] == "still moving" and out["moving_starts"] == ["s1"]


def test_readings_beyond_the_thermometer_range_are_no_fixed_point():
    T, dT = flows(np.full(6, 2.27), np.linspace(1, 4, 6))
    inside = np.ones_like(T, bool)
    assert classify_flows(T, dT, labels(6), inside=inside)["verdict"] == "fixed point"
    T[4:] = 12.0  # two starts run off the top of the curve: clipped readings
    inside[4:] = False
    out = classify_flows(T, dT, labels(6), inside=inside)
    assert out["verdict"] == "separate attractors" and out["T"] is None
    assert [b["beyond_range"] for b in out["branches"]] == [False, True]
    assert out["branches"][1]["starts"] == ["s4", "s5"]
    out = classify_flows(np.full((3, 41), 12.0), np.zeros((3, 41)), labels(3), inside=np.zeros((3, 41), bool))
    assert out["verdict"] == "beyond range"


def test_one_imprecise_reading_does_not_merge_the_others():
    """Meeting is judged pair by pair: a start with a huge error cannot pull two distinct end
    points into one."""
    T, dT = flows(np.array([1.8, 2.9, 2.3]), np.array([1.0, 4.0, 2.0]))
    dT[2] = 5.0
    out = classify_flows(T, dT, labels(3))
    assert out["verdict"] != "fixed point"
