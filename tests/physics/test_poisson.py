import numpy as np
import pytest
from phi import field, math
from phi.field import CenteredGrid, Noise, StaggeredGrid
from phi.geom import Box
from phi.math import Solve, batch, extrapolation

from phi_inverse.metrics import values_of
from phi_inverse.physics import poisson

ZERO, PERIODIC, NEUMANN = extrapolation.ZERO, extrapolation.PERIODIC, extrapolation.ZERO_GRADIENT
MIXED = extrapolation.combine_sides(x=PERIODIC, y=ZERO)
NEUMANN_ZERO = extrapolation.combine_sides(x=NEUMANN, y=ZERO)
NEUMANN_PERIODIC = extrapolation.combine_sides(x=NEUMANN, y=PERIODIC)
PER_SIDE = extrapolation.combine_sides(x=(ZERO, NEUMANN), y=ZERO)  # no spectral basis: CG
BOUNDARIES = [ZERO, PERIODIC, MIXED, NEUMANN, NEUMANN_ZERO, NEUMANN_PERIODIC]
BOUNDARY_IDS = ['zero', 'periodic', 'periodic-zero', 'neumann', 'neumann-zero', 'neumann-periodic']
KINDS = {ZERO: 'zero', PERIODIC: 'periodic', NEUMANN: 'neumann'}


def source(boundary=ZERO, res=(12, 10), size=(12, 10), examples=2, seed=0, zero_mean=False, mean=0.):
    """Smooth noise (PhiFlow's `Noise` has zero mean), plus `mean`, or with the mean removed exactly."""
    math.seed(seed)
    x = CenteredGrid(Noise(batch(b=examples), scale=4), boundary, Box(x=size[0], y=size[1]), x=res[0], y=res[1]) + mean
    return x - field.mean(x) if zero_mean else x


def fixes_no_values(boundary) -> bool:
    return boundary in (PERIODIC, NEUMANN, NEUMANN_PERIODIC)


def dense_laplacian(n: int, dx: float, kind) -> np.ndarray:
    """The 1D 5-point stencil with ghost cells: periodic, zero (ghost 0) or zero-gradient (ghost = edge cell)."""
    kind = {True: 'periodic', False: 'zero'}.get(kind, kind)
    matrix = (np.diag(-2 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1))
    if kind == 'periodic':
        matrix[0, -1] = matrix[-1, 0] = 1
    if kind == 'neumann':
        matrix[0, 0] = matrix[-1, -1] = -1
    return matrix / dx ** 2


def dense_solve(x: CenteredGrid, periodic=(False, False)) -> np.ndarray:
    """Independent reference: `∇²y = x` solved as a dense linear system of the 5-point stencil (minimum-norm if singular).

    `periodic` holds per axis `True`/`False` (periodic/zero) or one of 'periodic', 'zero', 'neumann'."""
    (nx, ny), (dx, dy) = x.resolution.sizes, [float(d) for d in x.dx]
    laplace = np.kron(dense_laplacian(nx, dx, periodic[0]), np.eye(ny)) + np.kron(np.eye(nx), dense_laplacian(ny, dy, periodic[1]))
    rhs = x.values.numpy('b,x,y').reshape(-1, nx * ny).astype(np.float64)
    return np.stack([np.linalg.lstsq(laplace, r, rcond=None)[0].reshape(nx, ny) for r in rhs])


def max_abs(a, b) -> float:
    return float(math.max(abs(values_of(a) - values_of(b)), dim=lambda s: s))


@pytest.mark.parametrize('boundary', BOUNDARIES + [PER_SIDE], ids=BOUNDARY_IDS + ['per-side'])
def test_laplace_of_forward_is_identity(backend, boundary):
    x = source(boundary, zero_mean=fixes_no_values(boundary), mean=0 if fixes_no_values(boundary) else .5)
    y = poisson.forward(x)
    assert y.values.default_backend == backend and y.extrapolation == boundary
    assert max_abs(field.laplace(y), x) < 1e-5 * max_abs(x, 0 * x)


@pytest.mark.parametrize('boundary', BOUNDARIES[3:], ids=BOUNDARY_IDS[3:])
def test_zero_gradient_boundaries_take_the_spectral_path(boundary):
    """The cosine-transform solve is exact and never calls the linear solver (which would record a SolveTape entry)."""
    x = source(boundary, zero_mean=fixes_no_values(boundary))
    with math.SolveTape() as tape:
        y = poisson.forward(x)
    assert len(tape.solves) == 0
    assert max_abs(y, poisson.spectral(x)) == 0


def test_forward_of_laplace_is_identity_with_zero_boundary(backend):
    x = source(ZERO)
    assert max_abs(poisson.forward(field.laplace(x)), x) < 1e-4


@pytest.mark.parametrize('boundary,periodic', [(ZERO, (False, False)), (PERIODIC, (True, True)), (MIXED, (True, False)),
                                               (NEUMANN, ('neumann', 'neumann')), (NEUMANN_ZERO, ('neumann', 'zero')),
                                               (NEUMANN_PERIODIC, ('neumann', 'periodic'))], ids=BOUNDARY_IDS)
def test_spectral_matches_dense_reference_on_every_backend(backend, boundary, periodic):
    """The backend's spectral solve against a dense NumPy linear solve of the same stencil, anisotropic cells."""
    x = source(boundary, res=(10, 8), size=(20, 4), zero_mean=fixes_no_values(boundary))
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


@pytest.mark.parametrize('boundary', BOUNDARIES, ids=BOUNDARY_IDS)
def test_spectral_and_cg_agree(boundary):
    with math.precision(64):
        x = source(boundary, zero_mean=True)
        spectral = poisson.spectral(x)
        iterative = poisson.iterative(x, Solve('CG', 1e-10, 1e-10, max_iterations=2000))
    assert max_abs(spectral, iterative) < 1e-7 * max_abs(spectral, 0 * spectral)


def test_boundary_differing_between_sides_falls_back_to_cg():
    x = source(PER_SIDE)
    with math.SolveTape() as tape:
        y = poisson.forward(x)
    assert len(tape.solves) == 1 and max_abs(field.laplace(y), x) < 1e-4
    with pytest.raises(ValueError, match='iterative'):
        poisson.spectral(x)


@pytest.mark.parametrize('boundary', [NEUMANN, PERIODIC, NEUMANN_PERIODIC], ids=['neumann', 'periodic', 'neumann-periodic'])
@pytest.mark.parametrize('solver', ['forward', 'spectral', 'iterative'])
def test_source_with_a_mean_is_rejected_where_no_boundary_fixes_values(backend, boundary, solver):
    """∇²y = x has no solution: a ValueError that names the fix, instead of 10,000 CG iterations and NotConverged."""
    x = source(boundary, mean=.1)
    with pytest.raises(ValueError, match=r'zero mean.*x - field.mean\(x\)'):
        getattr(poisson, solver)(x)
    poisson.check_compatible(source(boundary, zero_mean=True))
    poisson.check_compatible(source(MIXED, mean=.1))  # a zero boundary fixes values: any source is fine


def test_laplace_update_leaves_the_unobservable_mean(backend):
    """With zero-gradient walls the mean of x does not change P(x): the update corrects everything else."""
    x_true, x = source(NEUMANN, seed=1, zero_mean=True), source(NEUMANN, seed=2, zero_mean=True) + .3
    dx = poisson.laplace_update()(x, y_target=poisson.forward(x_true))
    assert max_abs(x + dx, x_true + .3) < 1e-4


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


def test_cosine_transform_matches_scipy_and_inverts(backend):
    from scipy.fft import dct
    from phi_inverse.physics import spectral
    values = math.random_normal(batch(b=2), math.spatial(x=5, y=3))
    transformed = spectral.cosine_transform(values, 'y')
    assert transformed.shape == values.shape and transformed.shape.names == values.shape.names
    expected = dct(values.numpy('b,x,y'), type=2, axis=2) / 2  # scipy's DCT-II carries a factor 2
    np.testing.assert_allclose(transformed.numpy('b,x,y'), expected, atol=1e-5)
    restored = spectral.inverse_cosine_transform(transformed, 'y')
    np.testing.assert_allclose(restored.numpy('b,x,y'), values.numpy('b,x,y'), atol=1e-5)


def test_zero_gradient_eigenvalues_match_the_dense_stencil():
    from phi_inverse.physics import spectral
    expected = np.sort(np.linalg.eigvalsh(dense_laplacian(7, .5, 'neumann')))
    actual = spectral.laplace_eigenvalues(math.spatial(x=7), {'x': .5}, {'x': 'zero_gradient'}).numpy('x')
    np.testing.assert_allclose(np.sort(actual), expected, atol=1e-10)
    assert spectral.boundary_kinds(CenteredGrid(0, NEUMANN_PERIODIC, x=4, y=4)) == {'x': 'zero_gradient', 'y': 'periodic'}
    assert spectral.boundary_kinds(CenteredGrid(0, PER_SIDE, x=4, y=4)) == {'x': 'other', 'y': 'zero'}
