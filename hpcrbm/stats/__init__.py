"""Monte Carlo statistics shared by every layer above: jackknife errors, tau_int, point summaries."""
from .statistics import SUMMARY_NAMES, block_labels, jackknife, point_summary, tau_int

__all__ = ["SUMMARY_NAMES", "block_labels", "jackknife", "point_summary", "tau_int"]
