"""``hpcrbm validate``: this installation's Monte Carlo against exact results, as a table.

Each check compares a Monte Carlo estimate with its exact value by z-score
(|z| < Z_MAX passes) with fixed seeds; exact-vs-exact checks pass within a tolerance.
"""
from dataclasses import dataclass

from .exact import kaufman_observables, ring_observables
from .exact.enumeration import enumerated_observables, ising2d_energies
from .exact.torus_field import torus_observables
from .montecarlo.ising import IsingModel
from .montecarlo.qstate import QStateModel
from .montecarlo.single_point import sample_point
from .rng.philox import philox4x32_numpy
from .stats import block_labels, jackknife

Z_MAX = 4.0
SEED = 20231105


@dataclass
class Check:
    name: str
    value: float
    error: float
    exact: float

    @property
    def z(self):
        return (self.value - self.exact) / self.error if self.error > 0 else 0.0

    @property
    def passed(self):
        if self.error > 0:
            return abs(self.z) < Z_MAX
        return abs(self.value - self.exact) <= 1e-6 * max(1.0, abs(self.exact))


def _philox_check():
    """Random123's known-answer vector for Philox4x32-10: 1.0 when all four words match."""
    got = philox4x32_numpy(0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344, 0xA4093822, 0x299F31D0)
    want = (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)
    return Check("Philox4x32-10 known-answer vector", float(tuple(map(int, got)) == want), 0.0, 1.0)


def _mc_checks_2d(model, label, temperatures, exact, replicas, rounds, interval, thermalize,
                  algorithm="metropolis", field=0.0):
    """u and c of ``model`` at ``field`` against ``exact(T) -> (u, c)`` at each temperature."""
    checks = []
    for i, T in enumerate(temperatures):
        e, _ = sample_point(model, T, field, SEED, i, replicas, thermalize, rounds, interval, algorithm=algorithm)
        u_exact, c_exact = exact(T)
        labels = block_labels(*e.shape)
        u = jackknife(lambda a: a, [e], labels)
        c = jackknife(lambda a, b, T=T: model.n_sites * (b - a * a) / T**2, [e, e * e], labels)
        checks.append(Check(f"{label} T={T:g}: u", *u, u_exact))
        checks.append(Check(f"{label} T={T:g}: c", *c, c_exact))
    return checks


def _kaufman(L, scale_T=1.0, shift=0.0, scale_u=1.0, scale_c=1.0):
    """Exact (u, c) of a model that maps onto the L x L Ising model: u = shift + scale_u u_I(scale_T T)."""
    def exact(T):
        u, c = kaufman_observables(scale_T * T, L)
        return shift + scale_u * u[0], scale_c * c[0]
    return exact


def _in_field(L, field):
    """Exact (u, c) of the L x L Ising torus in a field (row transfer matrix)."""
    def exact(T):
        u, _, c, _ = torus_observables(T, field, L)
        return u, c
    return exact


def _mc_checks_1d(N, points, replicas, rounds, interval, thermalize):
    model = IsingModel(1, N)
    checks = []
    for i, (T, H) in enumerate(points):
        e, m = sample_point(model, T, H, SEED, 100 + i, replicas, thermalize, rounds, interval)
        u_exact, m_exact, _, _ = ring_observables(T, H, N)
        labels = block_labels(*e.shape)
        checks.append(Check(f"1D ring N={N} T={T:g} H={H:g}: u vs transfer matrix",
                            *jackknife(lambda a: a, [e], labels), u_exact))
        checks.append(Check(f"1D ring N={N} T={T:g} H={H:g}: m vs transfer matrix",
                            *jackknife(lambda a: a, [m], labels), m_exact))
    return checks


def run_checks(quick=True):
    """All checks: quick (a few seconds) or thorough (larger lattices, more statistics)."""
    energies = ising2d_energies(4)
    checks = [_philox_check()]
    for T in (1.5, 2.269, 3.5):
        u_enum, c_enum = enumerated_observables(energies, 16, T)
        u_k, c_k = kaufman_observables(T, 4)
        checks.append(Check(f"Kaufman L=4 T={T:g}: u vs enumeration", u_k[0], 0.0, u_enum))
        checks.append(Check(f"Kaufman L=4 T={T:g}: c vs enumeration", c_k[0], 0.0, c_enum))
    in_field = ising2d_energies(4, 1.0, 0.3)
    for T in (1.5, 2.5):
        u_enum, c_enum = enumerated_observables(in_field, 16, T)
        u_tm, _, c_tm, _ = torus_observables(T, 0.3, 4)
        checks.append(Check(f"Transfer matrix L=4 T={T:g} H=0.3: u vs enumeration", u_tm, 0.0, u_enum))
        checks.append(Check(f"Transfer matrix L=4 T={T:g} H=0.3: c vs enumeration", c_tm, 0.0, c_enum))
    scale = 1 if quick else 4
    checks += _mc_checks_2d(IsingModel(2, 8), "2D Ising L=8 vs Kaufman", (1.8, 2.269, 3.0), _kaufman(8),
                            64, 250 * scale, 4, 1000)
    checks += _mc_checks_2d(IsingModel(2, 8), "2D Ising L=8 H=0.3 vs transfer matrix", (2.0, 2.6), _in_field(8, 0.3),
                            64, 250 * scale, 4, 1000, field=0.3)
    checks += _mc_checks_2d(IsingModel(2, 8), "2D Ising L=8 Wolff vs Kaufman", (2.269,), _kaufman(8),
                            64, 100 * scale, 1, 100, algorithm="wolff")
    # q = 2 Potts: u = -1 + u_I(2T) / 2, c = c_I(2T); q = 4 clock: u = u_I(2T), c = 2 c_I(2T)
    checks += _mc_checks_2d(QStateModel("potts", 2, 8, 2), "2D Potts q=2 L=8 vs Kaufman", (1.1345,),
                            _kaufman(8, 2.0, -1.0, 0.5, 1.0), 64, 250 * scale, 4, 1000)
    checks += _mc_checks_2d(QStateModel("potts", 2, 8, 2), "2D Potts q=2 L=8 SW vs Kaufman", (1.1345,),
                            _kaufman(8, 2.0, -1.0, 0.5, 1.0), 64, 100 * scale, 1, 100, algorithm="swendsen-wang")
    checks += _mc_checks_2d(QStateModel("clock", 2, 8, 4), "2D clock q=4 L=8 vs Kaufman", (1.1345,),
                            _kaufman(8, 2.0, 0.0, 1.0, 2.0), 64, 250 * scale, 4, 1000)
    if not quick:
        checks += _mc_checks_2d(IsingModel(2, 16), "2D Ising L=16 vs Kaufman", (2.0, 2.269, 2.4), _kaufman(16),
                                64, 1000, 8, 4000)
        checks += _mc_checks_2d(IsingModel(2, 32), "2D Ising L=32 SW vs Kaufman", (2.269,), _kaufman(32),
                                64, 500, 1, 200, algorithm="swendsen-wang")
    checks += _mc_checks_1d(15, ((1.0, 0.3), (2.0, -0.5)), 128, 200 * scale, 2, 500)
    return checks


def format_table(checks):
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':{width}s}  {'value':>12s}  {'error':>9s}  {'exact':>12s}  {'z':>6s}  result"]
    for c in checks:
        z = f"{c.z:6.2f}" if c.error > 0 else "     -"
        lines.append(f"{c.name:{width}s}  {c.value:12.6f}  {c.error:9.2e}  {c.exact:12.6f}  {z}  "
                     f"{'pass' if c.passed else 'FAIL'}")
    n_pass = sum(c.passed for c in checks)
    lines.append(f"{n_pass} passed, {len(checks) - n_pass} failed")
    return "\n".join(lines)
