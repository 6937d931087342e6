"""Poisson's equation `∇²y = x`: the forward solve `P(x) = ∇⁻²x` and its analytic Laplace inverse update.

The forward operator solves for `y` with the discrete 5-point Laplacian of `phi.field.laplace`, using the
boundary of `x` as the boundary of `y`, so that `field.laplace(forward(x)) == x` holds to float precision.

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


def forward(x: Field, solve: Optional[Solve] = None) -> Field:
    """Solves `∇²y = x` for `y`.

    Periodic and zero-value boundaries (in any combination per dimension) take the exact spectral path,
    `spectral()`. Any other boundary, or an explicit `solve`, takes the iterative path, `iterative()`.

    Args:
        x: Centred grid holding the right-hand side. Its extrapolation is the boundary condition of `y`.
        solve: If given, forces the iterative solver with these settings.

    Returns:
        `y`, a centred grid like `x`.
    """
    check_centered_grid(x, 'x')
    if solve is None and sp.OTHER not in sp.boundary_kinds(x).values():
        return spectral(x)
    return iterative(x, DEFAULT_SOLVE if solve is None else solve)


def spectral(x: Field) -> Field:
    """Exact solve of `∇²y = x` by diagonalising the 5-point Laplacian.

    Periodic dimensions are transformed by the FFT, zero-boundary dimensions by the type-I sine transform.
    With the eigenvalues `λ_k` of the stencil in that basis (`spectral.laplace_eigenvalues`), `ŷ_k = x̂_k / λ_k`.
    The null space `λ_0 = 0` of a fully periodic grid is fixed by giving `y` zero mean; then `∇²y = x − mean(x)`.

    Args:
        x: Centred grid with periodic or zero extrapolation along every dimension.

    Returns:
        `y` with `field.laplace(y) == x` (up to the mean of `x` if fully periodic).

    Raises:
        ValueError: If a boundary is neither periodic nor zero. Use `iterative()` for those.
    """
    check_centered_grid(x, 'x')
    kinds = sp.boundary_kinds(x)
    if sp.OTHER in kinds.values():
        raise ValueError(f"The spectral Poisson solver handles periodic and zero boundaries only, but x has extrapolation "
                         f"{x.extrapolation}. Use poisson.iterative(x, solve) or poisson.forward(x), which falls back to it.")
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
    """
    check_centered_grid(x, 'x')
    if solve.x0 is None:
        solve = math.copy_with(solve, x0=x.with_values(math.zeros_like(x.values)))
    if solve.rank_deficiency is None and not _fixes_values(x):
        solve = math.copy_with(solve, rank_deficiency=1)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Rank deficiency', RuntimeWarning)  # PhiML warns even when it is specified
        return math.solve_linear(_laplace, x, solve)


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
    the exact solution `x*`, the inverse-physics step of a perfect (analytic) inverse solver.

    Args:
        eta: Step size η of the inverse solver.
        solve: Passed to `forward()` when the update has to simulate `y = P(x)` itself.

    Returns:
        An inverse update `update(x, *, y_target, y=None) -> Δx`.

    References:
        Holl et al., NeurIPS 2022, section 4.1: "the SIP update ... uses the analytic inverse of the Laplace operator".
    """
    def update(x: Field, *, y_target: Field, y: Optional[Field] = None) -> Field:
        y = forward(x, solve) if y is None else y
        check_like(y, y_target, 'the simulated observation P(x)', 'y_target')
        return -eta * field.laplace(y - y_target)
    return update
