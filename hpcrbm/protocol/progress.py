"""Progress of a stage's items (steps, epochs, starts, tasks), on any launcher.

With a terminal (stderr a tty): a tqdm bar. Without one (mpiexec, Slurm, a pipe): log lines on the
``hpcrbm.progress`` logger, a start line, then at most one line every ``interval`` seconds (items
done, rate, time left) and an end line with the elapsed time. Only the reporting rank shows
anything (rank 0 of the communicator the items run on: each rank for the whole RBMs or fields it
trains alone); ``--quiet`` silences both (log.setup_logging).
"""
import logging
import sys
import time

INTERVAL = 5.0  # seconds: lines come no faster than one per interval (per stage item)


def _duration(seconds):
    """'42 s', '7.5 min' or '2.1 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


class Progress:
    """``total`` items of ``unit``, ``initial`` of them already done (a resumed stage)."""

    def __init__(self, total, initial=0, desc="", unit="step", show=True, interval=INTERVAL, clock=time.monotonic):
        self.total, self.done, self.first, self.desc, self.unit = total, initial, initial, desc, unit
        self.interval, self.clock = interval, clock
        self.bar = self.log = None
        self.start = self.last = clock()
        if show and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit)
        elif show:
            self.log = logging.getLogger("hpcrbm.progress")
            resumed = f", resuming after {initial}" if initial else ""
            self.log.info("%s: %d %ss%s", desc, total, unit, resumed)

    def update(self, n=1):
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.log is not None and self.clock() - self.last >= self.interval:
            self.last = now = self.clock()
            rate = (self.done - self.first) / max(now - self.start, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else float("inf")
            self.log.info("%s: %d/%d %ss (%.0f%%), %.3g %ss/s, %s left", self.desc, self.done, self.total, self.unit,
                          100 * self.done / max(self.total, 1), rate, self.unit, _duration(left))

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.log is not None:
            self.log.info("%s: done, %d %ss in %s", self.desc, self.done - self.first, self.unit,
                          _duration(self.clock() - self.start))
        self.bar = self.log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
