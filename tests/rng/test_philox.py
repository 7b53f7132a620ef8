import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpcrbm.rng import Purpose, counter_words, philox4x32, philox4x32_numpy, seed_key
from hpcrbm.rng.philox import philox4x32_lanes

# Random123 known-answer vectors: counter (4 words), key (2 words) -> output (4 words).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_known_answers_numpy_and_numba(ctr, key, expected):
    assert tuple(int(w) for w in philox4x32_numpy(*ctr, *key)) == expected
    assert tuple(int(w) for w in philox4x32(*(np.uint64(v) for v in ctr + key))) == expected
    assert tuple(int(w) for w in philox4x32_lanes(*(np.uint64(v) for v in ctr + key))) == expected


words = st.integers(0, 2**32 - 1)


@settings(max_examples=50, deadline=None)
@given(st.tuples(words, words, words, words, words, words))
def test_numba_equals_numpy(args):
    a = tuple(int(w) for w in philox4x32_numpy(*args))
    b = tuple(int(w) for w in philox4x32(*(np.uint64(v) for v in args)))
    c = tuple(int(w) for w in philox4x32_lanes(*(np.uint64(v) for v in args)))
    assert a == b == c


def test_seed_key_splits_64_bits():
    assert seed_key(0x0123456789ABCDEF) == (0x89ABCDEF, 0x01234567)
    with pytest.raises(ValueError):
        seed_key(2**64)


def test_stream_layout_is_word_k_mod_4_of_counter_k_div_4():
    seed, point, replica, step = 2**33 + 7, 1234, 5, 99
    k = np.arange(20)
    got = counter_words(seed, point, replica, step, k, Purpose.METROPOLIS)
    k0, k1 = seed_key(seed)
    for i in k:
        block = philox4x32_numpy(i // 4, step, replica, point * 256 + int(Purpose.METROPOLIS), k0, k1)
        assert got[i] == block[i % 4]


def test_streams_differ_by_purpose_point_replica_step():
    base = dict(seed=1, point=2, replica=3, step=4, index=np.arange(64), purpose=Purpose.METROPOLIS)
    ref = counter_words(**base)
    for key, value in (("purpose", Purpose.INITIAL_STATE), ("point", 3), ("replica", 4), ("step", 5), ("seed", 2)):
        other = counter_words(**{**base, key: value})
        assert np.mean(other == ref) < 0.05, key


def test_words_are_uniform():
    w = counter_words(7, 0, 0, 0, np.arange(200000), Purpose.METROPOLIS).astype(float) / 2**32
    assert abs(w.mean() - 0.5) < 5 * np.sqrt(1 / 12 / w.size)
    counts = np.histogram(w, bins=16, range=(0, 1))[0]
    chi2 = ((counts - w.size / 16) ** 2 / (w.size / 16)).sum()
    assert chi2 < 50  # 15 degrees of freedom: p < 1e-5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_uniforms_are_the_cpu_uniforms(runner, dtype):
    """uniform.cu (through the CPU emulator of the CUDA module) makes the numbers of the numba
    twin bit for bit: rows of different replicas, an odd width, a block offset, replica words
    above 2**32 (the first round's 64-bit product) and float32's rounding of the upper half."""
    from hpcrbm.rng.uniform import uniforms
    ids = np.array([0, 1, 7, 2**32 - 1, 2**32 + 5, 2**40 + 3, 12345])
    for cols, offset in ((13, 0), (4, 8), (1, 4)):
        args = ((len(ids), cols), dtype, 2**40 + 17, ids, 9, 321, 18)
        device = uniforms(*args, offset=offset, runner=runner)
        assert device.dtype == np.dtype(dtype) and np.array_equal(device, uniforms(*args, offset=offset))
    assert uniforms((0, 5), dtype, 1, [], 0, 0, 18, runner=runner).shape == (0, 5)
