"""The sweep schedule of the Monte Carlo stage."""
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """Steps of the Monte Carlo stage: thermalisation chunks, then one step per round.

    A step ends at sweep :meth:`target` of every chain; round ``j`` (0-based) ends at sweep
    ``thermalize + (j + 1) * interval`` and stores one sample of each replica. Checkpoints
    are taken between steps only.
    """

    thermalize: int
    interval: int
    rounds: int

    @property
    def chunk(self):
        return max(self.interval, 100)

    @property
    def thermal_steps(self):
        return math.ceil(self.thermalize / self.chunk)

    @property
    def steps(self):
        return self.thermal_steps + self.rounds

    def target(self, step):
        """Sweeps completed at the end of ``step`` (0 for step -1)."""
        if step < self.thermal_steps:
            return min((step + 1) * self.chunk, self.thermalize)
        return self.thermalize + (step - self.thermal_steps + 1) * self.interval

    def round_of(self, step):
        """Round index stored at the end of ``step``, or -1 during thermalisation."""
        return step - self.thermal_steps
