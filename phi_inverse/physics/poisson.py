"""Poisson's equation `∇²y = x`: the forward solve `P(x) = ∇⁻²x` and its analytic Laplace inverse update.

The forward operator solves for `y` with the discrete 5-point Laplacian of `phi.field.laplace`, using the
boundary of `x` as the boundary of `y`, so that `field.laplace(forward(x)) == x` holds to float precision.

Where no boundary prescribes values (periodic and zero-gradient boundaries in any combination), `∇²y = x` has a
solution only if `x` has zero mean (compatibility condition: `Σ ∇²y = 0`), and then `y` is determined up to a
constant, fixed by giving `y` zero mean. The solvers check the condition and raise a `ValueError` otherwise.

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, section 4.1
    and appendix B.2 (Poisson's equation).
"""
import warnings
from typing import Optional

from phi import field, math
from phi.field import Field
from phi.math import Solve, extrapolation

from . import spectral as sp
from ..support.checks import check_centered_grid, check_like

DEFAULT_SOLVE = Solve('CG', rel_tol=1e-6, abs_tol=1e-6, max_iterations=10_000)
MEAN_TOLERANCE = 1e-4
"""Largest `|mean(x)| / rms(x)` that counts as zero mean (float32 rounding of a zero-mean field is ≈ 1e-7)."""


def forward(x: Field, solve: Optional[Solve] = None) -> Field:
    """Solves `∇²y = x` for `y`.

    Periodic, zero-value and zero-gradient boundaries (in any combination per dimension, both sides of a dimension
    alike) take the exact spectral path, `spectral()`. Any other boundary, or an explicit `solve`, takes the iterative
    path, `iterative()`.

    Args:
        x: Centred grid holding the right-hand side. Its extrapolation is the boundary condition of `y`.
        solve: If given, forces the iterative solver with these settings.

    Returns:
        `y`, a centred grid like `x`.

    Raises:
        ValueError: If no boundary prescribes values and `x` does not have zero mean (see `check_compatible()`).
    """
    check_centered_grid(x, 'x')
    if solve is None and sp.OTHER not in sp.boundary_kinds(x).values():
        return spectral(x)
    return iterative(x, DEFAULT_SOLVE if solve is None else solve)


def spectral(x: Field) -> Field:
    """Exact solve of `∇²y = x` by diagonalising the 5-point Laplacian.

    Periodic dimensions are transformed by the FFT, zero-boundary dimensions by the type-I sine transform,
    zero-gradient dimensions by the type-II cosine transform. With the eigenvalues `λ_k` of the stencil in that
    basis (`spectral.laplace_eigenvalues`), `ŷ_k = x̂_k / λ_k`. Without a zero-boundary dimension the null space
    `λ_0 = 0` (the constant) is fixed by giving `y` zero mean.

    Args:
        x: Centred grid with periodic, zero or zero-gradient extrapolation along every dimension.

    Returns:
        `y` with `field.laplace(y) == x`.

    Raises:
        ValueError: If a boundary is none of these (use `iterative()` for those), or if the compatibility condition
            fails (see `check_compatible()`). Inside a JIT trace the condition cannot be checked, and `y` then
            solves `∇²y = x − mean(x)`.
    """
    check_centered_grid(x, 'x')
    kinds = sp.boundary_kinds(x)
    if sp.OTHER in kinds.values():
        raise ValueError(f"The spectral Poisson solver handles periodic, zero and zero-gradient boundaries only, but x has "
                         f"extrapolation {x.extrapolation}. Use poisson.iterative(x, solve) or poisson.forward(x), which falls back to it.")
    check_compatible(x)
    inverse_eigenvalues = sp.inverse_laplace_eigenvalues(x.resolution, sp.cell_sizes(x), kinds)
    return x.with_values(sp.from_spectrum(sp.to_spectrum(x.values, kinds) * inverse_eigenvalues, kinds))


def iterative(x: Field, solve: Solve = DEFAULT_SOLVE) -> Field:
    """Solves `∇²y = x` with an iterative linear solver, for any boundary PhiFlow's Laplacian supports.

    Gradients are computed by PhiFlow's implicit differentiation (an adjoint solve).

    Args:
        x: Centred grid; its extrapolation is the boundary condition of `y`.
        solve: Solver, tolerances and iteration limit. `solve.x0` warm-starts the solve; zero if `None`.
            If no boundary prescribes values (periodic, zero-gradient), `y` is determined up to a constant
            and `x` must have zero mean; the rank deficiency is then passed to the solver.

    Returns:
        `y`, a centred grid like `x`.

    Raises:
        ValueError: If no boundary prescribes values and `x` does not have zero mean (see `check_compatible()`).
    """
    check_centered_grid(x, 'x')
    check_compatible(x)
    if solve.x0 is None:
        solve = math.copy_with(solve, x0=x.with_values(math.zeros_like(x.values)))
    if solve.rank_deficiency is None and not _fixes_values(x):
        solve = math.copy_with(solve, rank_deficiency=1)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Rank deficiency', RuntimeWarning)  # PhiML warns even when it is specified
        return math.solve_linear(_laplace, x, solve)


def check_compatible(x: Field, tolerance: float = MEAN_TOLERANCE):
    """Raises a `ValueError` if `∇²y = x` has no solution: no boundary prescribes values and `x` has a mean.

    Summing `∇²y` over the grid leaves only boundary fluxes, which periodic and zero-gradient boundaries make zero,
    so `x` must have zero mean; it counts as zero if `|mean(x)| ≤ tolerance · rms(x)` for every example and channel.
    Inside a JIT trace, where values are unknown, nothing is checked.
    """
    if _fixes_values(x) or not x.values.available:
        return
    mean = field.mean(x)
    rms = math.sqrt(field.mean(x * x))
    if (abs(mean) > tolerance * rms).any:
        raise ValueError(f"∇²y = x has no solution for this x: its boundary {x.extrapolation} prescribes no values, so x must "
                         f"have zero mean, but its mean is {math.max(abs(mean), lambda s: s):.3g} (rms {math.max(rms, lambda s: s):.3g}). "
                         f"Subtract it first, x - field.mean(x), or use a boundary that fixes values (e.g. extrapolation.ZERO).")


def _fixes_values(grid: Field) -> bool:
    """Whether any boundary prescribes values; if none does, `∇²y = x` determines `y` only up to a constant."""
    sides = [(dim + side, sp.boundary_side(grid.extrapolation, dim + side)) for dim in grid.shape.spatial.names for side in '-+']
    return any(ext != extrapolation.PERIODIC and ext.determines_boundary_values(key) for key, ext in sides)


@math.jit_compile_linear
def _laplace(y: Field) -> Field:
    return field.laplace(y)


def laplace_update(eta: float = 1., solve: Optional[Solve] = None):
    """The analytic Laplace inverse update of SIP for Poisson's equation.

    `Δx = −η ∇²(P(x) − y*)`. Because `∇²P(x) = x`, this is `η(x* − x)`: with `η = 1` the update lands on
    the exact solution `x*`, the inverse-physics step of a perfect (analytic) inverse solver. Where no boundary
    prescribes values, the mean of `x` does not change `P` and is not observable: the update simulates
    `P(x − mean(x))` and leaves the mean of `x` as it is.

    Args:
        eta: Step size η of the inverse solver.
        solve: Passed to `forward()` when the update has to simulate `y = P(x)` itself.

    Returns:
        An inverse update `update(x, *, y_target, y=None) -> Δx`.

    References:
        Holl et al., NeurIPS 2022, section 4.1: "the SIP update ... uses the analytic inverse of the Laplace operator".
    """
    def update(x: Field, *, y_target: Field, y: Optional[Field] = None) -> Field:
        y = forward(x if _fixes_values(x) else x - field.mean(x), solve) if y is None else y
        check_like(y, y_target, 'the simulated observation P(x)', 'y_target')
        return -eta * field.laplace(y - y_target)
    return update
