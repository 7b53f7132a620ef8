"""The stream registry: unique purposes, documented in docs/rng.md exactly as registered."""
import re
from pathlib import Path

import pytest

from hpcrbm.config import Config, SamplingConfig, check_values, loads
from hpcrbm.errors import InputError
from hpcrbm.rng.streams import GRID_POINTS, MAX_POINTS, SYNTHETIC_POINTS, Purpose
from hpcrbm.stages.flow import starts_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "rng.md"


def test_docs_table_is_the_registry():
    rows = re.findall(r"^\| (\d+) \| ([A-Z_]+) \|", DOC.read_text(), re.M)
    assert {(int(v), n) for v, n in rows} == {(int(p), p.name) for p in Purpose}
    assert len({int(p) for p in Purpose}) == len(Purpose) and all(0 <= p < 256 for p in Purpose)


def test_synthetic_points_cannot_collide_with_grid_points():
    """Grid points lie below GRID_POINTS <= SYNTHETIC_POINTS; synthetic start s uses point
    SYNTHETIC_POINTS + s with s < (nT + 2) nH <= MAX_POINTS - SYNTHETIC_POINTS (the config checks)."""
    assert GRID_POINTS <= SYNTHETIC_POINTS < MAX_POINTS
    cfg = loads("[sampling]\ntemperatures = [1.0, 2.0]\nfields = [0.0, 0.5]\n")
    assert len(starts_table(cfg)) == (2 + 2) * 2
    many = Config(sampling=SamplingConfig(temperatures=(1.0,), fields=tuple(float(h) for h in range(2**23 // 3 + 1))))
    with pytest.raises(InputError, match="sampling.fields"):
        check_values(many)
    fields = ", ".join(str(0.1 * i) for i in range(42))  # 100000 x 42 > 2**22 points
    too_many = f"[sampling]\ntemperatures = {{start = 1, stop = 100000, step = 1}}\nfields = [{fields}]\n"
    with pytest.raises(InputError, match=r"at most 4194304 \(T, H\) points"):
        loads(too_many)


def test_no_code_adds_offsets_to_a_purpose():
    package = Path(__file__).resolve().parents[2] / "hpcrbm"
    offenders = [str(p) for p in package.rglob("*.py") if re.search(r"Purpose\.\w+\)?\s*\+", p.read_text())]
    assert not offenders


@pytest.mark.parametrize("n", [0, 1, 5, 8, 1001])
def test_stream_words_are_the_counter_words_of_the_first_indices(n):
    import numpy as np

    from hpcrbm.rng.streams import counter_words
    from hpcrbm.rng.uniform import stream_words
    expected = counter_words(2**40 + 3, 77, 5, 9, np.arange(n), Purpose.RBM_ORDER)
    assert np.array_equal(stream_words(n, 2**40 + 3, 77, 5, 9, Purpose.RBM_ORDER), expected)


@pytest.mark.parametrize("n", [0, 1, 5, 1001, 12000])
def test_stream_order_is_the_stable_argsort_of_the_words(n, monkeypatch):
    """stream_order (a sort of word 2**32 + index keys) is argsort(words, kind="stable"): by word,
    ties by index; ties forced by a stream whose every third word is one value."""
    import numpy as np

    from hpcrbm.rng import uniform
    words = uniform.stream_words(n, 7, 3, 0, 2, Purpose.RBM_ORDER)
    assert np.array_equal(uniform.stream_order(n, 7, 3, 0, 2, Purpose.RBM_ORDER), np.argsort(words, kind="stable"))
    tied = words.copy()
    tied[::3] = tied[0] if n else 0
    monkeypatch.setattr(uniform, "stream_words", lambda *args: tied)
    order = uniform.stream_order(n, 7, 3, 0, 2, Purpose.RBM_ORDER)
    assert order.dtype == np.int64 and np.array_equal(order, np.argsort(tied, kind="stable"))
