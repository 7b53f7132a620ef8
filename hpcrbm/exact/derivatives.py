"""Finite-difference derivatives of smooth scalar functions (five-point stencils)."""


def first_derivative(f, x, h):
    """df/dx at x, error O(h^4)."""
    return (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h)


def second_derivative(f, x, h):
    """d2f/dx2 at x, error O(h^4)."""
    return (-f(x - 2 * h) + 16 * f(x - h) - 30 * f(x) + 16 * f(x + h) - f(x + 2 * h)) / (12 * h * h)
