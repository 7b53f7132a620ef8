"""Parallel tempering between neighbouring temperatures, across ranks.

Every (T, H) slot keeps its temperature; accepted exchanges swap the replica lattices of
two slots (in place on one rank, one MPI Sendrecv per slot pair across ranks), so stored
samples are always indexed by temperature and the Metropolis streams stay keyed by slot.
Decisions need every replica's energy, which all ranks gather; every rank then makes all
decisions from the same Philox words and keeps identical bookkeeping, so results do not
depend on the number of ranks.

Exchange e (after sweep (e + 1) * exchange_every) tries the pairs (iT, iT + 1) with
iT = e mod 2, 4, ... at every field and replica r; it accepts when
word < floor(2**32 exp((1/T_i - 1/T_i+1)(E_i - E_i+1))) (always when the exponent is >= 0),
word = word r of the TEMPERING stream at step e, replica 0, point = flat index of (iT, iH).
"""
import numpy as np

from ..rng.streams import Purpose, counter_words
from .ising import TWO32

_TAG = 91


class Tempering:
    """Bookkeeping shared (identically) by all ranks: where each walker is, statistics."""

    def __init__(self, grid, replicas):
        nT, nH = grid.shape
        self.grid = grid
        self.replicas = replicas
        self.walker = np.arange(nT * nH * replicas, dtype=np.int64).reshape(nT, nH, replicas)
        self.direction = np.zeros(nT * nH * replicas, dtype=np.int8)  # +1 last at lowest T, -1 at highest
        self.attempts = np.zeros((max(nT - 1, 0), nH), dtype=np.int64)
        self.accepted = np.zeros_like(self.attempts)
        self.round_trips = np.zeros(nH, dtype=np.int64)

    def arrays(self):
        """name -> array, for checkpoints and /tempering in samples.h5."""
        return {"walker": self.walker, "direction": self.direction, "attempts": self.attempts,
                "accepted": self.accepted, "round_trips": self.round_trips}

    def restore(self, arrays):
        for name, value in arrays.items():
            getattr(self, name)[...] = value

    def decide(self, seed, exchange, energies):
        """Accepted swaps of exchange ``exchange``: list of (iT, iH, replicas bool mask).

        energies: total energy of every slot and replica, float64 (nT, nH, R).
        """
        nT, nH = self.grid.shape
        beta = 1.0 / np.asarray(self.grid.temperatures)
        decisions = []
        for iT in range(exchange % 2, nT - 1, 2):
            for iH in range(nH):
                exponent = (beta[iT] - beta[iT + 1]) * (energies[iT, iH] - energies[iT + 1, iH])
                with np.errstate(over="ignore"):
                    threshold = np.floor(np.exp(np.minimum(exponent, 0.0)) * TWO32)
                words = counter_words(seed, iT * nH + iH, 0, exchange, np.arange(self.replicas), Purpose.TEMPERING)
                decisions.append((iT, iH, (exponent >= 0) | (words < threshold)))
        return decisions

    def record(self, decisions, count):
        """Swap walker labels, update acceptance counts (if ``count``) and round trips."""
        nT = self.grid.shape[0]
        for iT, iH, accept in decisions:
            upper = self.walker[iT + 1, iH, accept].copy()
            self.walker[iT + 1, iH, accept] = self.walker[iT, iH, accept]
            self.walker[iT, iH, accept] = upper
            if count:
                self.attempts[iT, iH] += accept.size
                self.accepted[iT, iH] += int(accept.sum())
        if nT < 2 or not count:
            return
        lowest, highest = self.walker[0].reshape(-1), self.walker[-1].reshape(-1)
        returning = self.direction[lowest] == -1
        np.add.at(self.round_trips, np.repeat(np.arange(self.grid.shape[1]), self.replicas)[returning], 1)
        self.direction[lowest] = 1
        self.direction[highest[self.direction[highest] == 1]] = -1


def swap_lattices(decisions, grid, points, spins, comm):
    """Carry out accepted swaps on the local lattices (list ``spins`` aligned with ``points``).

    Pairs are visited in the same global order on every rank, so the Sendrecv calls of
    neighbouring ranks match without deadlock.
    """
    local = {p: li for li, p in enumerate(points)}
    n_points = grid.size
    nH = grid.shape[1]
    for iT, iH, accept in decisions:
        if not accept.any():
            continue
        a, b = iT * nH + iH, (iT + 1) * nH + iH
        if a in local and b in local:
            sa, sb = spins[local[a]], spins[local[b]]
            tmp = sa[accept].copy()
            sa[accept] = sb[accept]
            sb[accept] = tmp
        elif a in local or b in local:
            mine, other = (a, b) if a in local else (b, a)
            block = spins[local[mine]]
            outgoing = np.ascontiguousarray(block[accept])
            incoming = np.empty_like(outgoing)
            comm.comm.Sendrecv(outgoing, dest=comm.owner(other, n_points), sendtag=_TAG, recvbuf=incoming,
                               source=comm.owner(other, n_points), recvtag=_TAG)
            block[accept] = incoming
