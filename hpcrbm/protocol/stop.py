"""The stop signals (SIGTERM, SIGUSR1: what Slurm sends before a time limit), caught from the
command line's first step: only the standard library here, so the handlers are in place before
NumPy, h5py or MPI load and a signal in the first second also stops with a checkpoint (exit 75).
hpcrbm/protocol/checkpoint.py honours the requests at the next checkpoint check."""
import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
_stop_requests = []  # signal numbers received by this process (and STOP_TAG: another rank stops)


def _request(number, frame):
    _stop_requests.append(number)


def catch_stop_signals():
    """Turn SIGTERM and SIGUSR1 into a stop request, honoured at the next checkpoint check."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _request)


def release_stop_signals():
    """For a command that computes nothing: the default actions back, and a stop signal that
    arrived meanwhile acts now as it would have (ends the process)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    for signum in [s for s in _stop_requests if s in STOP_SIGNALS][:1]:
        signal.raise_signal(signum)
