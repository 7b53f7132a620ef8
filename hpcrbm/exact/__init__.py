"""Exact results the Monte Carlo is checked against (computed, never tabulated).

Conventions: k_B = 1, periodic boundaries, per-site quantities (science.md).
"""
from .ising1d import ring_log_partition, ring_observables
from .kaufman import kaufman_log_partition, kaufman_observables
from .onsager import ising2d_critical_temperature, onsager_energy, onsager_magnetization, onsager_specific_heat

__all__ = [
    "ring_observables", "ring_log_partition", "kaufman_log_partition", "kaufman_observables",
    "ising2d_critical_temperature", "onsager_energy", "onsager_magnetization",
    "onsager_specific_heat",
]
