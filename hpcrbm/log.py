"""Rank-aware logging: lines carry [rank/size]; ranks other than 0 log warnings only."""
import logging
import sys


def setup_logging(comm, quiet=False):
    logger = logging.getLogger("hpcrbm")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"hpcrbm [{comm.rank}/{comm.size}] %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    level = logging.INFO if comm.is_root and not quiet else logging.WARNING
    logger.setLevel(level)
    logger.propagate = False
    # progress lines (protocol/progress.py): on every rank that reports, unless quiet
    logging.getLogger("hpcrbm.progress").setLevel(logging.WARNING if quiet else logging.INFO)
    return logger


def get_logger():
    return logging.getLogger("hpcrbm")


def warn_all(comm, msg, *args):
    """A warning that every rank of ``comm`` reaches alike (a collective decision), written once,
    by rank 0."""
    if comm.is_root:
        get_logger().warning(msg, *args)
