import numpy as np
import pytest
from phi import field, math
from phi.field import CenteredGrid, Noise, StaggeredGrid
from phi.geom import Box
from phi.math import Solve, batch, extrapolation

from phi_inverse.metrics import values_of
from phi_inverse.physics import poisson

ZERO, PERIODIC = extrapolation.ZERO, extrapolation.PERIODIC
MIXED = extrapolation.combine_sides(x=PERIODIC, y=ZERO)


def source(boundary=ZERO, res=(12, 10), size=(12, 10), examples=2, seed=0, zero_mean=False):
    math.seed(seed)
    x = CenteredGrid(Noise(batch(b=examples), scale=4), boundary, Box(x=size[0], y=size[1]), x=res[0], y=res[1])
    return x - field.mean(x) if zero_mean else x


def dense_laplacian(n: int, dx: float, periodic: bool) -> np.ndarray:
    matrix = (np.diag(-2 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1))
    if periodic:
        matrix[0, -1] = matrix[-1, 0] = 1
    return matrix / dx ** 2


def dense_solve(x: CenteredGrid, periodic=(False, False)) -> np.ndarray:
    """Independent reference: `∇²y = x` solved as a dense linear system of the 5-point stencil (minimum-norm if singular)."""
    (nx, ny), (dx, dy) = x.resolution.sizes, [float(d) for d in x.dx]
    laplace = np.kron(dense_laplacian(nx, dx, periodic[0]), np.eye(ny)) + np.kron(np.eye(nx), dense_laplacian(ny, dy, periodic[1]))
    rhs = x.values.numpy('b,x,y').reshape(-1, nx * ny).astype(np.float64)
    return np.stack([np.linalg.lstsq(laplace, r, rcond=None)[0].reshape(nx, ny) for r in rhs])


def max_abs(a, b) -> float:
    return float(math.max(abs(values_of(a) - values_of(b)), dim=lambda s: s))


@pytest.mark.parametrize('boundary', [ZERO, PERIODIC, MIXED], ids=['zero', 'periodic', 'mixed'])
def test_laplace_of_forward_is_identity(backend, boundary):
    x = source(boundary, zero_mean=boundary == PERIODIC)
    y = poisson.forward(x)
    assert y.values.default_backend == backend
    assert max_abs(field.laplace(y), x) < 1e-5 * max_abs(x, 0 * x)


def test_forward_of_laplace_is_identity_with_zero_boundary(backend):
    x = source(ZERO)
    assert max_abs(poisson.forward(field.laplace(x)), x) < 1e-4


@pytest.mark.parametrize('boundary,periodic', [(ZERO, (False, False)), (PERIODIC, (True, True)), (MIXED, (True, False))],
                         ids=['zero', 'periodic', 'mixed'])
def test_spectral_matches_dense_reference_on_every_backend(backend, boundary, periodic):
    """The backend's FFT-based solve against a dense NumPy linear solve of the same stencil, anisotropic cells."""
    x = source(boundary, res=(10, 8), size=(20, 4), zero_mean=periodic == (True, True))
    y = poisson.spectral(x).values.numpy('b,x,y')
    reference = dense_solve(x, periodic)
    assert np.max(np.abs(y - reference)) < 2e-5 * np.max(np.abs(reference))


def test_spectral_results_agree_between_backends():
    from phi_inverse.support import backends
    x_numpy = source(ZERO, res=(16, 16), size=(16, 16))
    reference = poisson.spectral(x_numpy).values.numpy('b,x,y')
    for name in backends.installed():
        with backends.get(name):
            y = poisson.spectral(math.convert(x_numpy)).values.numpy('b,x,y')
        assert np.max(np.abs(y - reference)) < 1e-5 * np.max(np.abs(reference)), name


@pytest.mark.parametrize('boundary', [ZERO, PERIODIC], ids=['zero', 'periodic'])
def test_spectral_and_cg_agree(boundary):
    with math.precision(64):
        x = source(boundary, zero_mean=True)
        spectral = poisson.spectral(x)
        iterative = poisson.iterative(x, Solve('CG', 1e-10, 1e-10, max_iterations=2000))
    assert max_abs(spectral, iterative) < 1e-7 * max_abs(spectral, 0 * spectral)


def test_zero_gradient_boundary_falls_back_to_cg():
    x = source(extrapolation.ZERO_GRADIENT, zero_mean=True)
    y = poisson.forward(x)
    assert max_abs(field.laplace(y), x) < 1e-4
    with pytest.raises(ValueError, match='iterative'):
        poisson.spectral(x)


def test_nonzero_dirichlet_boundary_is_solved_by_cg():
    x = source(extrapolation.ONE)
    y = poisson.forward(x)
    assert y.extrapolation == extrapolation.ONE
    assert max_abs(field.laplace(y), x) < 1e-4


def test_explicit_solve_forces_iterative_path():
    x = source(ZERO)
    y = poisson.forward(x, Solve('CG', 1e-3, 1e-3))
    exact = poisson.spectral(x)
    assert 0 < max_abs(y, exact) < 1e-2 * max_abs(exact, 0 * exact)


def test_warm_start_from_solution_needs_no_iterations():
    with math.precision(64):
        x = source(ZERO)
        exact = poisson.spectral(x)
        with math.SolveTape() as tape:
            poisson.iterative(x, Solve('CG', 1e-8, 1e-8, x0=exact))
    assert int(math.max(tape[0].iterations, dim=lambda s: s)) == 0


def test_staggered_input_is_rejected():
    v = StaggeredGrid(0, ZERO, x=4, y=4)
    with pytest.raises(TypeError, match='centred grid'):
        poisson.forward(v)


def test_gradient_through_spectral_solve(ml_backend):
    """`∂/∂x ½‖P(x) − y*‖² = Pᵀ(P(x) − y*) = P(P(x) − y*)`, since the stencil is symmetric."""
    x, y_target = source(ZERO, seed=1), poisson.forward(source(ZERO, seed=2))

    def loss(x):
        return math.sum(math.l2_loss(poisson.forward(x) - y_target))
    gradient = math.gradient(loss, 'x', get_output=False)(x)
    analytic = poisson.forward(poisson.forward(x) - y_target)
    assert max_abs(gradient, analytic) < 1e-4 * max_abs(analytic, 0 * analytic)


def test_gradient_through_cg_matches_spectral(torch_backend):
    x, y_target = source(ZERO, seed=1), poisson.forward(source(ZERO, seed=2))
    solve = Solve('CG', 1e-7, 1e-7, max_iterations=1000)

    def loss(x, forward):
        return math.sum(math.l2_loss(forward(x) - y_target))
    spectral = math.gradient(lambda x: loss(x, poisson.spectral), 'x', get_output=False)(x)
    iterative = math.gradient(lambda x: loss(x, lambda v: poisson.iterative(v, solve)), 'x', get_output=False)(x)
    assert max_abs(spectral, iterative) < 1e-3 * max_abs(spectral, 0 * spectral)


@pytest.mark.parametrize('boundary', [ZERO, PERIODIC], ids=['zero', 'periodic'])
def test_laplace_update_with_unit_step_lands_on_solution(backend, boundary):
    x_true, x = source(boundary, seed=1, zero_mean=True), source(boundary, seed=2, zero_mean=True)
    dx = poisson.laplace_update(1.)(x, y_target=poisson.forward(x_true))
    assert max_abs(x + dx, x_true) < 1e-4


def test_laplace_update_step_size_scales_the_error():
    x_true, x = source(ZERO, seed=1), source(ZERO, seed=2)
    dx = poisson.laplace_update(.25)(x, y_target=poisson.forward(x_true))
    assert max_abs(x + dx, x + .25 * (x_true - x)) < 1e-4


def test_laplace_update_is_zero_at_the_solution():
    x = source(ZERO)
    dx = poisson.laplace_update()(x, y_target=poisson.forward(x))
    assert max_abs(dx, 0 * dx) < 1e-4


def test_laplace_update_uses_given_observation():
    x_true, x = source(ZERO, seed=1), source(ZERO, seed=2)
    update = poisson.laplace_update()
    y_target = poisson.forward(x_true)
    assert max_abs(update(x, y_target=y_target), update(x, y_target=y_target, y=poisson.forward(x))) < 1e-5
    assert max_abs(update(x, y_target=y_target, y=y_target), 0 * x) < 1e-5


def test_laplace_update_rejects_other_boundary():
    x = source(ZERO)
    with pytest.raises(ValueError, match='with_extrapolation'):
        poisson.laplace_update()(x, y_target=poisson.forward(x).with_extrapolation(PERIODIC))
