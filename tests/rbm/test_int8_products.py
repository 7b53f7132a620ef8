"""The training update's products as AMX int8 products (kernels/int8_products.py): the exact
integers of the float products, so the update's bits are those of the BLAS path. Skipped where
the CPU (or Linux, or the C compiler) gives no AMX."""
import numpy as np
import pytest

from hpcrbm.rbm.kernels import int8_products as ip
from hpcrbm.rbm.kernels import training_cpu as k
from hpcrbm.rng.philox import seed_key

needs_amx = pytest.mark.skipif(not ip.AVAILABLE, reason="no AMX int8 on this CPU (or no C compiler to build it)")


def test_digits_needed_are_the_balanced_base_256_bounds():
    """L digits in [-128, 127] hold exactly the magnitudes up to 127 (256**L - 1) / 255."""
    for digits, bound in ((1, 127), (2, 32639), (3, 8355711)):
        assert ip.digits_needed(float(bound)) == digits and ip.digits_needed(float(bound + 1)) == digits + 1
    assert ip.digits_needed(0.0) == 1


@needs_amx
@pytest.mark.parametrize("nh, units, rows", [(6, 9, 10), (13, 37, 11), (100, 100, 200), (64, 100, 100),
                                             (17, 1030, 33), (15, 47, 7), (256, 1024, 200)])
def test_products_are_the_exact_integer_products(nh, units, rows):
    """Each product at the largest magnitudes a float32 update allows (|x| <= 2**24 / max(Nh, units),
    signed probabilities up to 2**16), odd shapes included, equals the float64 product of the same
    integers (exact: every sum below 2**53), as float32 (sums) and float64 (the gradient's sums of
    W, b and c from probabilities rounded to the grid 2**-16)."""
    rng = np.random.default_rng(nh + units)
    top = 2**24 // max(nh, units)
    Wq = rng.integers(-top, top + 1, (nh, units)).astype(np.float32)
    Wq[0, 0] = -top  # the extreme on each side
    Wq[-1, -1] = top
    x = (rng.random((rows, units)) < 0.5).astype(np.float32)
    h = (rng.random((rows, nh)) < 0.5).astype(np.float32)
    n0 = rows // 2 + 1  # probabilities on the grid's edges (0, 1, halves) included
    probs = rng.random((rows, nh)).astype(np.float32)
    probs.flat[:6] = [0.0, 1.0, 0.5**17, 3 * 0.5**17, 1.0 - 0.5**17, 0.5]
    digits = ip.digits_needed(float(top))
    packed = ip.pack_weights(Wq / np.float32(2.0**-3), 2.0**-3, digits)  # W = Wq 2**3, rint(W 2**-3) = Wq
    exact = Wq.astype(np.float64)
    assert np.array_equal(ip.weight_products(x, packed, nh, units, digits, True), (x @ exact.T).astype(np.float32))
    assert np.array_equal(ip.weight_products(h, packed, nh, units, digits, False), (h @ exact).astype(np.float32))
    grad = np.full(nh * units + units + nh, np.nan)
    ip.gradient_sums(probs[:n0], probs[n0:], 2.0**16, x, grad)
    signed = np.rint(probs.astype(np.float64) * 2.0**16) * np.where(np.arange(rows) < n0, 1.0, -1.0)[:, None]
    assert np.array_equal(grad[:nh * units], (signed.T @ x).ravel())
    assert np.array_equal(grad[nh * units:nh * units + units], x[:n0].sum(axis=0) - x[n0:].sum(axis=0))
    assert np.array_equal(grad[nh * units + units:], signed.sum(axis=0))


@needs_amx
@pytest.mark.parametrize("rows, n", [(1, 1), (3, 15), (5, 17), (7, 33), (100, 100), (64, 1024), (5, 32), (3, 36),
                                     (9, 44), (333, 100)])
def test_the_vectorised_layer_is_the_numba_layer(rows, n):
    """bernoulli_layer (C, AVX-512, rows split among threads from 2**15 values) gives the
    probabilities of training_cpu._probabilities and the states of sample_bernoulli_rows bit for
    bit: logits from 1e-3 to beyond the clamp at 80, ragged columns, large chain ids and steps;
    widths that are multiples of 4 from 32 on as one flat array (Philox blocks of two rows in one
    vector, 8 or more blocks a row, a thread's rows from the middle of the layer)."""
    rng = np.random.default_rng(rows * n)
    sums = (rng.normal(size=(rows, n)) * rng.choice([1e-3, 1.0, 30.0, 3000.0], size=(rows, n))).astype(np.float32)
    bias = rng.normal(size=n).astype(np.float32)
    ids = rng.integers(0, 2**32, rows).astype(np.int64)
    step, first_block, c3, (k0, k1) = 2**31 + 5, 7, 2**32 - 3, seed_key(2**64 - 11)
    scale = np.float32(2.0**-3)
    expected_p, expected_h = np.empty_like(sums), np.empty_like(sums)
    k._probabilities(sums, scale, bias, expected_p)
    k.sample_bernoulli_rows(expected_p, ids, step, first_block, c3, k0, k1, expected_h)
    probs, states = np.full_like(sums, np.nan), np.full_like(sums, np.nan)
    ip.bernoulli_layer(sums, scale, bias, probs, True, ids, step, first_block, c3, k0, k1, states)
    assert np.array_equal(probs, expected_p) and np.array_equal(states, expected_h)
    assert rows * n < 100 or 0 < states.mean() < 1
    probs_only = np.full_like(sums, np.nan)
    ip.bernoulli_layer(sums, scale, bias, probs_only, False, ids, step, first_block, c3, k0, k1, states[:0])
    assert np.array_equal(probs_only, expected_p)


def _update(nv, nh, batch, q, persistent, gibbs_steps, scale, seed):
    rng = np.random.default_rng(seed)
    units, n = nv * max(q, 1), 5 * batch
    if q:
        data = np.eye(q, dtype=np.float32)[rng.integers(0, q, (n, nv))].reshape(n, units)
    else:
        data = (rng.random((n, units)) < 0.4).astype(np.float32)
    W = (rng.normal(size=(nh, units)) * scale).astype(np.float32)
    b, c = rng.normal(size=units).astype(np.float32), rng.normal(size=nh).astype(np.float32)
    rows = rng.permutation(n)[:batch]
    chains = data[rng.permutation(n)[:batch]].copy() if persistent else data[:0]
    ids = np.arange(batch) if persistent else rows
    return (data, rows, chains, persistent, ids.astype(np.int64), gibbs_steps, W, b, c, q, 17, 256, 77 * 256 + 7,
            *seed_key(5), 2 * batch)


@needs_amx
@pytest.mark.parametrize("nv, nh, batch, q, persistent, gibbs_steps, scale", [
    (100, 100, 100, 0, False, 1, 0.5), (100, 64, 100, 0, True, 1, 2.0), (9, 6, 10, 3, False, 2, 0.3),
    (50, 30, 37, 0, True, 3, 5.0), (33, 17, 20, 4, True, 2, 1.0), (576, 144, 50, 0, True, 1, 0.3)])
def test_the_update_with_int8_products_is_the_blas_update(nv, nh, batch, q, persistent, gibbs_steps, scale):
    """gradient_sums with int8 products gives the grids, gradient sums and negative states of the
    BLAS products bit for bit (Bernoulli and categorical visibles, CD-k and PCD-k, weights from
    small to near the grid's limit), into float64 or float32 sums (the trainer's: the same
    integers)."""
    args = _update(nv, nh, batch, q, persistent, gibbs_steps, scale, seed=nv + nh)
    units = nv * max(q, 1)
    out = [(np.full(nh * units + units + nh, np.nan, dtype), np.empty((batch, units), np.float32))
           for dtype in (np.float64, np.float64, np.float32, np.float32)]
    grids = [k.gradient_sums(*args, *out[0]), k.gradient_sums(*args, *out[1], True),
             k.gradient_sums(*args, *out[2]), k.gradient_sums(*args, *out[3], True)]
    assert grids[0] == grids[1] == grids[2] == grids[3]
    for grad, negative in out[1:]:
        assert np.array_equal(grad, out[0][0]) and np.array_equal(negative, out[0][1])


@needs_amx
@pytest.mark.parametrize("nv, nh, batch, n0, persistent, gibbs_steps", [
    (100, 100, 100, 100, False, 1), (1024, 128, 40, 43, True, 1), (576, 144, 37, 37, False, 2),
    (65, 33, 29, 31, True, 3)])
def test_the_one_call_update_has_the_same_bits_on_any_number_of_threads(nv, nh, batch, n0, persistent, gibbs_steps):
    """kernels/bernoulli_update.c splits the batch's rows among OpenMP's threads (each thread its rows'
    chains and partial gradient sums, added after a barrier; the first three shapes are above its
    UPDATE_PARALLEL_WORK): on 1, 2 and 3 threads
    (uneven blocks, PCD with more or fewer data rows than chains) it gives the grids, gradient sums
    (float64, and float32 on 3 threads) and negative states of the BLAS update bit for bit."""
    from threadpoolctl import threadpool_limits
    args = list(_update(nv, nh, batch, 0, persistent, gibbs_steps, 1.0, seed=nv + n0))
    args[1] = args[1][:n0] if n0 <= batch else np.concatenate([args[1], np.arange(n0 - batch)])
    if not persistent:
        args[4] = args[1].astype(np.int64)
    out = []
    for threads, int8 in ((2, False), (1, True), (2, True), (3, True)):
        grad = np.full(nh * nv + nv + nh, np.nan, np.float32 if threads == 3 else np.float64)  # the trainer's: float32
        negative = np.empty((len(args[4]), nv), np.float32)
        with threadpool_limits(threads, user_api="openmp"):
            grids = k.gradient_sums(*args, grad, negative, int8)
        out.append((grids, grad, negative))
    for grids, grad, negative in out[1:]:
        assert grids == out[0][0]
        assert np.array_equal(grad, out[0][1]) and np.array_equal(negative, out[0][2])
    assert 0 < out[0][2].mean() < 1


@needs_amx
@pytest.mark.parametrize("method", ["pcd", "cd"])
def test_a_training_with_int8_products_is_the_blas_training(monkeypatch, method):
    """Three epochs of a Trainer (L = 10 Ising data, Nh = 64) with int8 products (the threshold at
    0) and with BLAS products (the threshold out of reach) end with the same W, b, c and chains."""
    from hpcrbm.parallel import Communicator
    from hpcrbm.rbm import training
    from hpcrbm.rbm.throughput import ising_training_data
    data = ising_training_data(per_temperature=200)
    results = []
    for threshold, expected in ((2**62, False), (0, True)):
        monkeypatch.setattr(training, "INT8_PRODUCTS_FROM", threshold)
        settings = training.TrainingSettings(n_hidden=64, method=method, learning_rate=0.05, seed=3)
        trainer = training.Trainer(settings, data, 0, len(data), Communicator(None), data.shape[1])
        assert trainer.int8_products is expected
        state = trainer.initial_state()
        for _ in range(3):
            trainer.epoch(state)
        results.append((state.params.W, state.params.b, state.params.c, state.chains))
    assert all(np.array_equal(a, b) for a, b in zip(*results))


@pytest.mark.slow
def test_without_a_c_compiler_the_update_takes_the_blas_path(tmp_path):
    """No ``cc`` on PATH and an empty kernel cache: the library cannot be built, AVAILABLE is
    False, the symbols are stubs and a float32 update (BLAS) still runs and gives its bits."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np\n"
            "from hpcrbm.rbm.kernels import int8_products, training_cpu\n"
            "from tests.rbm.test_int8_products import _update\n"
            "assert not int8_products.AVAILABLE\n"
            "args = _update(9, 6, 10, 0, True, 1, 0.3, 1)\n"
            "grad, neg = np.empty(6 * 9 + 9 + 6), np.empty((10, 9), np.float32)\n"
            "print(training_cpu.gradient_sums(*args, grad, neg), float(grad.sum()))\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("NUMBA_CACHE_DIR", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert result.returncode == 0, result.stderr
    expected = subprocess.run([sys.executable, "-c", code.replace("assert not", "assert True or")],
                              capture_output=True, text=True, timeout=600,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert expected.returncode == 0, expected.stderr
    assert result.stdout == expected.stdout
    assert not list((tmp_path / "cache").rglob("*.so"))


def test_the_library_builds_and_is_used_where_the_cpu_has_amx():
    """Where /proc/cpuinfo lists amx_int8 and a C compiler is on PATH, the library builds and
    AMX is used: a C source that no longer compiles cannot hide behind the BLAS fallback."""
    import shutil
    from pathlib import Path
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists() or " amx_int8" not in cpuinfo.read_text() or shutil.which("cc") is None:
        pytest.skip("no AMX int8 in /proc/cpuinfo, or no C compiler")
    assert ip._library() is not None
    assert ip.AVAILABLE
