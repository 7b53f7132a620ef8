"""Finite-difference derivatives of smooth scalar functions (five-point stencils)."""


def first_derivative(f, x, h):
    """df/dx at x, error O(h^4)."""
    return (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h)


def second_derivative(f, x, h):
    """d2f/dx2 at x, error O(h^4)."""
    return (-f(x - 2 * h) + 16 * f(x - h) - 30 * f(x) + 16 * f(x + h) - f(x + 2 * h)) / (12 * h * h)


def observables_from_log_partition(log_partition, T, field, n_sites):
    """Per-site (u, m, c, chi) from ``log_partition(beta, field)`` by five-point derivatives:
    u = -d ln Z / d beta / N (the field term included), m = T d ln Z / dh / N (signed),
    c = beta^2 d2 ln Z / d beta^2 / N, chi = T d2 ln Z / dh2 / N = N var(m) / T."""
    beta = 1.0 / T
    f_beta = lambda b: log_partition(b, field)  # noqa: E731
    f_field = lambda x: log_partition(beta, x)  # noqa: E731
    hb, hf = 1e-3 * beta, 1e-3 * max(T, abs(field), 1e-2)
    u = -first_derivative(f_beta, beta, hb) / n_sites
    c = beta**2 * second_derivative(f_beta, beta, hb) / n_sites
    m = T * first_derivative(f_field, field, hf) / n_sites
    chi = T * second_derivative(f_field, field, hf) / n_sites
    return u, m, c, chi
