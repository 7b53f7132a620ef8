"""The numba kernels against the readable NumPy reference, bit for bit."""
import numpy as np
import pytest

from hpcrbm.montecarlo.ising import TWO32, IsingModel
from hpcrbm.montecarlo.kernels import ising_cpu
from hpcrbm.montecarlo.kernels.ising_reference import acceptance_numbers, colour_classes, metropolis_reference
from hpcrbm.rng import seed_key


@pytest.mark.parametrize("dim,L", [(2, 2), (2, 4), (2, 6), (2, 10), (2, 16), (1, 2), (1, 3), (1, 9), (1, 16)])
@pytest.mark.parametrize("T,H", [(1.3, 0.0), (2.4, -0.7)])
def test_kernel_equals_reference(dim, L, T, H):
    model = IsingModel(dim, L)
    seed = 2**40 + 17
    spins = model.initial_state(seed, 3, 4, "random")
    table = model.thresholds(T, H)
    fast, slow = spins.copy(), spins.copy()
    model.sweep(fast, table, seed, 3, 11, 5)
    metropolis_reference(slow, table, seed, 3, 11, 5)
    assert np.array_equal(fast, slow)
    assert not np.array_equal(fast, spins)


def test_tie_draws_equal_reference():
    """Enough updates that the top byte ties with the threshold's (1 in 256) many times, in 2D
    and 1D: the kernels' lazily drawn tie words give the reference's full 32-bit comparison."""
    for model, T, H in ((IsingModel(2, 32), 2.269, 0.05), (IsingModel(1, 333), 0.9, -0.2)):
        seed = 99
        spins = model.initial_state(seed, 7, 3, "random")
        table = model.thresholds(T, H)
        fast, slow = spins.copy(), spins.copy()
        model.sweep(fast, table, seed, 7, 0, 12)
        ties = metropolis_reference(slow, table, seed, 7, 0, 12)
        assert ties > 20  # about 1 in 256 of 12000 (1D) and 37000 (2D) updates
        assert np.array_equal(fast, slow)


@pytest.mark.parametrize("T,H", [(2.269, 0.0), (1.1, 0.45), (3.7, -1.3)])
def test_replica_groups_equal_one_replica_at_a_time(T, H):
    """Small lattices: whole groups of REPLICA_GROUP replicas (vectorised across replicas) plus
    the rest one at a time make the same decisions as every replica one at a time."""
    n_rep = 2 * ising_cpu.REPLICA_GROUP + 6
    for L in range(2, ising_cpu.SMALL_L + 1, 2):
        model = IsingModel(2, L)
        seed = 2**35 + L
        table = model.thresholds(T, H)
        spins = model.initial_state(seed, 9, n_rep, "random")
        grouped, single = spins.copy(), spins.copy()
        model.sweep(grouped, table, seed, 9, 13, 30)
        ising_cpu._metropolis_2d_replicas(single, 0, table, *seed_key(seed), 9, 13, 30)
        assert np.array_equal(grouped, single), L
        assert not np.array_equal(grouped, spins)


@pytest.mark.slow
def test_replica_groups_equal_reference_with_ties():
    """A replica group against the NumPy reference, with tied top bytes, on a strided view."""
    model = IsingModel(2, 10)
    seed = 4242
    table = model.thresholds(1.9, 0.2)
    spins = model.initial_state(seed, 2, 2 * ising_cpu.REPLICA_GROUP, "random")
    fast, slow = spins.copy(), spins.copy()
    model.sweep(fast[::2], table, seed, 2, 5, 6)
    ties = metropolis_reference(slow[::2], table, seed, 2, 5, 6)
    assert ties > 10
    assert np.array_equal(fast, slow)
    assert not np.array_equal(fast, spins)


def test_replicas_one_at_a_time_update_a_strided_view():
    """Fewer replicas than a group (one at a time) on a strided view: updated in place, as the
    NumPy reference does."""
    model = IsingModel(2, 8)
    table = model.thresholds(2.1, -0.1)
    spins = model.initial_state(7, 1, 10, "random")
    fast, slow = spins.copy(), spins.copy()
    model.sweep(fast[::2], table, 7, 1, 0, 4)
    metropolis_reference(slow[::2], table, 7, 1, 0, 4)
    assert np.array_equal(fast, slow) and not np.array_equal(fast, spins)


def test_acceptance_numbers_are_uniform_32_bit():
    """z-scores (fixed seed): u < t has probability t / 2**32, also where the top byte ties and
    only the tie stream's 24 bits decide."""
    u = acceptance_numbers(5, 3, 1, 17, 2**22)
    for t in (0x12345678, 0xFEDCBA98, 0x00ABCDEF):
        p = t / 2**32
        z = ((u < t).mean() - p) / np.sqrt(p * (1 - p) / u.size)
        tied = u[(u >> 24) == (t >> 24)]
        p_low = (t & 0xFFFFFF) / 2**24
        z_low = ((tied < t).mean() - p_low) / np.sqrt(p_low * (1 - p_low) / tied.size)
        assert abs(z) < 4 and abs(z_low) < 4 and tied.size > 10000


def test_sweeps_compose():
    """n sweeps at once equal n single sweeps with the running sweep counter."""
    model = IsingModel(2, 8)
    table = model.thresholds(2.0, 0.1)
    a = model.initial_state(5, 0, 2, "random")
    b = a.copy()
    model.sweep(a, table, 5, 0, 0, 6)
    for t in range(6):
        model.sweep(b, table, 5, 0, t, 1)
    assert np.array_equal(a, b)


def test_thresholds_are_metropolis_probabilities():
    model = IsingModel(2, 4, J=1.0)
    T, H = 1.7, 0.3
    table = model.thresholds(T, H)
    for si, s in enumerate((-1, 1)):
        for ni, nb in enumerate(range(-4, 5, 2)):
            dE = 2 * s * (nb + H)
            expected = TWO32 if dE <= 0 else np.floor(np.exp(-dE / T) * TWO32)
            assert table[si, ni] == expected


def test_colour_classes_partition_lattice_and_do_not_touch():
    for shape in [(6, 6), (7,), (8,)]:
        classes = colour_classes(shape)
        assert np.array_equal(sum(c.astype(int) for c in classes), np.ones(shape, int))
        for c in classes:  # no two sites of a class are neighbours
            for axis in range(len(shape)):
                assert not np.any(c & np.roll(c, 1, axis))


def test_initial_states():
    model = IsingModel(2, 6)
    up = model.initial_state(1, 0, 3, "up")
    assert (up == 1).all()
    ordered = model.initial_state(1, 0, 64, "ordered")
    per_replica = ordered.reshape(64, -1)
    assert (per_replica == per_replica[:, :1]).all()
    assert 10 < (per_replica[:, 0] == 1).sum() < 54
    rnd = model.initial_state(1, 0, 2, "random")
    assert abs(rnd.mean()) < 0.3 and not np.array_equal(rnd[0], rnd[1])


def test_measure_energy_and_magnetization():
    model = IsingModel(2, 4)
    spins = np.ones((2, 4, 4), np.int8)
    spins[1, 0, 0] = -1
    e, m = model.measure(spins, 0.5)
    assert e[0] == pytest.approx(-2 - 0.5)
    assert e[1] == pytest.approx((-(32 - 8) - 0.5 * 14) / 16)
    assert m[1] == pytest.approx(14 / 16)
    ring = IsingModel(1, 5)
    e, m = ring.measure(np.array([[1, 1, -1, 1, 1]], np.int8), -1.0)
    assert e[0] == pytest.approx((-(5 - 4) + 3) / 5)
    assert m[0] == pytest.approx(3 / 5)


def test_measurement_sums_of_any_array_module_are_the_numba_ones():
    """The array twins of the measurement kernels (used on a GPU, here with NumPy) give the numba
    kernels' integer sums: 2D lattices and odd and even rings, Ising and q-state."""
    from hpcrbm.montecarlo.kernels import ising_cpu, ising_reference, qstate_cpu, qstate_reference
    rng = np.random.default_rng(8)
    for shape in ((5, 6, 6), (4, 1, 9), (3, 1, 10), (2, 7, 7)):
        spins = rng.choice(np.array([-1, 1], np.int8), size=shape)
        assert all(np.array_equal(a, b) for a, b in zip(ising_reference.ising_sums(np, spins),
                                                          ising_cpu.ising_sums(spins)))
        for q in (3, 5):
            states = rng.integers(0, q, size=shape).astype(np.int8)
            assert all(np.array_equal(a, b) for a, b in zip(qstate_reference.qstate_histograms(np, states, q),
                                                              qstate_cpu.qstate_histograms(states, q)))
