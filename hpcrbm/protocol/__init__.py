"""What every stage shares, written once: the :class:`~hpcrbm.protocol.stage.Stage` declaration,
its fingerprint, the :class:`~hpcrbm.protocol.stage.Context` it computes on, and the one checkpoint
helper (hpcrbm/protocol/checkpoint.py) with the stop signals."""
