"""The (T, H) grid of a run: temperatures x fields, flat point index p = iT * nH + iH."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """Temperatures (nT,) and fields (nH,); point p = iT * nH + iH is the global flat index."""

    temperatures: tuple
    fields: tuple

    @property
    def shape(self):
        return len(self.temperatures), len(self.fields)

    @property
    def size(self):
        return len(self.temperatures) * len(self.fields)

    def index(self, point):
        """(iT, iH) of a flat point index."""
        return divmod(int(point), len(self.fields))

    def values(self, point):
        """(T, H) of a flat point index."""
        iT, iH = self.index(point)
        return self.temperatures[iT], self.fields[iH]

    def arrays(self):
        return np.asarray(self.temperatures, dtype=np.float64), np.asarray(self.fields, dtype=np.float64)
