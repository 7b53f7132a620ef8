from hypothesis import given
from hypothesis import strategies as st

from hpcrbm.parallel import Communicator, block_range


@given(st.integers(0, 500), st.integers(1, 64))
def test_block_range_partitions_and_balances(n, size):
    ranges = [block_range(n, size, r) for r in range(size)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    lengths = [b - a for a, b in ranges]
    assert max(lengths) - min(lengths) <= 1


def test_serial_communicator():
    comm = Communicator(None)
    assert (comm.rank, comm.size, comm.is_root) == (0, 1, True)
    assert comm.slice(7) == (0, 7)
    assert comm.all_true(True) and not comm.all_true(False)
    assert comm.bcast_number(3.5) == 3.5
    assert comm.owner(6, 7) == 0
