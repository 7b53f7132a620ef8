"""Progress without a terminal: log lines at a bounded rate, a start and an end line."""
import logging

from hpcrbm.protocol.progress import Progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_lines_come_at_most_once_per_interval_with_rate_and_time_left(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO, logger="hpcrbm.progress")
    progress = Progress(100, 10, "train nh16", "epoch", show=True, interval=5.0, clock=clock)
    for _ in range(30):  # 30 epochs of 1 s: lines at 5, 10, ... 30 s
        clock.now += 1.0
        progress.update(1)
    progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "train nh16: 100 epochs, resuming after 10"
    assert lines[1] == "train nh16: 15/100 epochs (15%), 1 epochs/s, 85 s left"
    assert len(lines) == 1 + 6 + 1 and lines[6].startswith("train nh16: 40/100 epochs (40%)")
    assert lines[-1] == "train nh16: done, 30 epochs in 30 s"


def test_nothing_when_not_shown(caplog):
    caplog.set_level(logging.INFO, logger="hpcrbm.progress")
    with Progress(5, show=False) as progress:
        progress.update(5)
    assert not caplog.records
