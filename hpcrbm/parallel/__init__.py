"""The communicator and the decomposition of the (T, H) grid over ranks."""
from .communicator import Communicator, block_range

__all__ = ["Communicator", "block_range"]
