"""The matrix-free Gauss–Newton–Krylov update against answers computed independently (dense NumPy solves, the
analytic Laplace inverse), on every autodiff backend."""
import numpy as np
import pytest
from phi import field, math
from phi.field import CenteredGrid, Noise, StaggeredGrid
from phi.geom import Box
from phi.math import batch, channel, extrapolation, spatial

from phi_inverse import krylov, updates
from phi_inverse.physics import heat, poisson

RNG = np.random.default_rng(0)
A = RNG.normal(size=(7, 5))  # overdetermined: least squares, not an exact solve
X0, Y_TARGET = RNG.normal(size=(3, 5)), RNG.normal(size=(3, 7))


def matrix_forward(matrix: np.ndarray):
    operator = math.tensor(matrix, channel('out'), channel('inp'))
    return lambda x: math.dot(operator, 'inp', x, 'inp')


def examples(array: np.ndarray, dim: str):
    return math.tensor(array, batch('b'), channel(dim))


def damped_least_squares(matrix, x, y_target, relative_damping):
    """`x + (AᵀA + μI)⁻¹ Aᵀ(y* − Ax)` per example, `μ = damping·‖Ag‖²/‖g‖²` with `g = Aᵀ(y* − Ax)` (dense, float64)."""
    result = []
    for x_b, y_b in zip(x, y_target):
        g = matrix.T @ (y_b - matrix @ x_b)
        mu = relative_damping * np.sum((matrix @ g) ** 2) / np.sum(g ** 2)
        result.append(x_b + np.linalg.solve(matrix.T @ matrix + mu * np.eye(matrix.shape[1]), g))
    return np.stack(result)


def test_linear_forward_lands_on_the_least_squares_solution(ml_backend):
    with math.precision(64):
        x = examples(X0, 'inp')
        dx = updates.gauss_newton_krylov(matrix_forward(A), iterations=5)(x, y_target=examples(Y_TARGET, 'out'))
        expected = np.stack([np.linalg.lstsq(A, y, rcond=None)[0] for y in Y_TARGET])
        np.testing.assert_allclose((x + dx).numpy('b,inp'), expected, atol=1e-9)


def test_fewer_iterations_than_unknowns_do_not_reach_the_solution(ml_backend):
    """Guards against a test that passes for any update: 2 of 5 iterations must leave a visible error."""
    with math.precision(64):
        x = examples(X0, 'inp')
        dx = updates.gauss_newton_krylov(matrix_forward(A), iterations=2)(x, y_target=examples(Y_TARGET, 'out'))
        expected = np.stack([np.linalg.lstsq(A, y, rcond=None)[0] for y in Y_TARGET])
        assert np.abs((x + dx).numpy('b,inp') - expected).max() > 1e-3


@pytest.mark.parametrize('damping', [.1, 2.])
def test_damping_is_relative_to_the_curvature_along_the_gradient(ml_backend, damping):
    with math.precision(64):
        x = examples(X0, 'inp')
        dx = updates.gauss_newton_krylov(matrix_forward(A), iterations=5, damping=damping)(x, y_target=examples(Y_TARGET, 'out'))
        np.testing.assert_allclose((x + dx).numpy('b,inp'), damped_least_squares(A, X0, Y_TARGET, damping), atol=1e-9)


def test_regularization_pulls_the_solution_towards_zero(ml_backend):
    """`x + Δx = (AᵀA + μI)⁻¹ Aᵀy*` with `μ = regularization·‖Ag‖²/‖g‖²`: Tikhonov's solution, whatever `x` was
    (here an underdetermined `A`, whose null space `x` would otherwise keep)."""
    wide = A.T  # 5 observations of 7 unknowns
    x0, y_target = RNG.normal(size=(3, 7)), RNG.normal(size=(3, 5))
    with math.precision(64):
        dx = updates.gauss_newton_krylov(matrix_forward(wide), iterations=7, regularization=.3)(examples(x0, 'inp'), y_target=examples(y_target, 'out'))
        expected = []
        for x_b, y_b in zip(x0, y_target):
            g = wide.T @ (y_b - wide @ x_b)
            mu = .3 * np.sum((wide @ g) ** 2) / np.sum(g ** 2)
            expected.append(np.linalg.solve(wide.T @ wide + mu * np.eye(7), wide.T @ y_b))
        np.testing.assert_allclose((examples(x0, 'inp') + dx).numpy('b,inp'), np.stack(expected), atol=1e-9)


def test_update_is_invariant_to_the_scale_of_the_observation_per_example(ml_backend):
    """Scaling `P` and `y*` by `c` leaves `Δx` unchanged, for every example on its own, damping included."""
    with math.precision(64):
        x, y_target = examples(X0, 'inp'), examples(Y_TARGET, 'out')
        scales = math.tensor([1., 1e-3, 1e4], batch('b'))
        update = updates.gauss_newton_krylov(matrix_forward(A), iterations=3, damping=.5)
        scaled = updates.gauss_newton_krylov(lambda v: scales * matrix_forward(A)(v), iterations=3, damping=.5)
        np.testing.assert_allclose(scaled(x, y_target=scales * y_target).numpy('b,inp'),
                                   update(x, y_target=y_target).numpy('b,inp'), rtol=1e-8, atol=1e-12)


def test_converged_example_stops_while_the_others_continue(ml_backend):
    """At the solution the residual is zero from the start: that example gets Δx = 0 (no NaN), the others their step."""
    with math.precision(64):
        solution = np.linalg.lstsq(A, Y_TARGET[0], rcond=None)[0]
        x = examples(np.stack([solution, X0[1], X0[2]]), 'inp')
        exact = A @ solution
        y_target = examples(np.stack([exact, Y_TARGET[1], Y_TARGET[2]]), 'out')
        dx = updates.gauss_newton_krylov(matrix_forward(A), iterations=8, tolerance=1e-6)(x, y_target=y_target)
        values = dx.numpy('b,inp')
        assert np.all(np.isfinite(values)) and np.abs(values[0]).max() < 1e-12
        expected = np.stack([np.linalg.lstsq(A, y, rcond=None)[0] for y in Y_TARGET[1:]])
        np.testing.assert_allclose((x + dx).numpy('b,inp')[1:], expected, atol=1e-6)


def test_tolerance_stops_early(ml_backend):
    with math.precision(64):
        x, y_target = examples(X0, 'inp'), examples(Y_TARGET, 'out')
        _, loose = krylov.gauss_newton_step(matrix_forward(A), x, y_target, iterations=5, tolerance=.5)
        _, tight = krylov.gauss_newton_step(matrix_forward(A), x, y_target, iterations=5)
        assert np.all(loose.numpy('b') > 1e-3) and np.all(tight.numpy('b') < 1e-6)


def blur(grid):
    """A linear, non-symmetric simulation on a grid: a diffusion step plus a one-cell shift along x."""
    shifted = math.pad(grid.values, {'x': (1, 0)}, 0).x[:-1]
    return grid.with_values(grid.values + .2 * field.laplace(grid).values + .3 * shifted)


def dense_matrix(simulate, template: CenteredGrid) -> np.ndarray:
    size = template.resolution.volume
    unit = CenteredGrid(math.tensor(np.eye(size).reshape(size, *template.resolution.sizes), batch('unit'), template.resolution),
                        template.extrapolation, template.bounds, resolution=template.resolution)
    return simulate(unit).values.numpy(['unit', *template.resolution.names]).reshape(size, size).T


def test_grid_update_matches_a_dense_solve(ml_backend):
    """A Field in, a Field out: with enough iterations (more than the 12 cells, for rounding) the dense solution."""
    with math.precision(64):
        math.seed(1)
        template = CenteredGrid(0, extrapolation.ZERO, Box(x=4, y=3), x=4, y=3)
        x = CenteredGrid(Noise(batch(b=2)), extrapolation.ZERO, template.bounds, x=4, y=3)
        y_target = CenteredGrid(Noise(batch(b=2)), extrapolation.ZERO, template.bounds, x=4, y=3)
        dx = updates.gauss_newton_krylov(blur, iterations=30)(x, y_target=y_target)
        assert isinstance(dx, type(x)) and dx.extrapolation == x.extrapolation and dx.shape == x.shape
        with math.NUMPY:
            matrix = dense_matrix(blur, template)
        rhs = y_target.values.numpy('b,x,y').reshape(2, -1)
        expected = np.stack([np.linalg.solve(matrix, r) for r in rhs]).reshape(2, 4, 3)
        np.testing.assert_allclose((x + dx).values.numpy('b,x,y'), expected, atol=1e-7)


def test_staggered_grid_keeps_its_structure(ml_backend):
    """`P(v) = 2v`: one iteration gives `Δv = y*/2 − v` exactly, on a staggered grid's non-uniform values."""
    v = StaggeredGrid(Noise(batch(b=2), vector='x,y'), extrapolation.ZERO, x=4, y=3)
    y_target = StaggeredGrid(Noise(batch(b=2), vector='x,y'), extrapolation.ZERO, x=4, y=3)
    dv = updates.gauss_newton_krylov(lambda u: 2 * u, iterations=1)(v, y_target=y_target)
    assert dv.is_staggered and dv.values.shape == v.values.shape
    expected = y_target.values / 2 - v.values
    assert float(math.max(abs(dv.values - expected), lambda s: s)) < 1e-5


def test_poisson_approaches_the_laplace_update_as_iterations_grow(ml_backend):
    """`P = ∇⁻²` (a 12x12 grid): the Krylov step converges to `laplace_update()`'s exact inverse step `x* − x`."""
    with math.precision(64):
        math.seed(2)
        x = CenteredGrid(Noise(batch(b=2), scale=4), extrapolation.ZERO, x=12, y=12)
        y_target = poisson.forward(CenteredGrid(Noise(batch(b=2), scale=4), extrapolation.ZERO, x=12, y=12))
        exact = poisson.laplace_update()(x, y_target=y_target)
        scale = float(math.max(abs(exact.values), lambda s: s))
        update = math.jit_compile(lambda x, y_target, n: updates.gauss_newton_krylov(poisson.forward, n)(x, y_target=y_target), auxiliary_args='n')
        errors = [float(math.max(abs(update(x, y_target, n).values - exact.values), lambda s: s)) / scale for n in (2, 8, 40)]
    assert errors[0] > errors[1] > errors[2] and errors[0] > .1 and errors[2] < 1e-3, errors


def test_heat_with_damping_stays_finite_in_float32(ml_backend):
    """The paper's heat problem (ν t = 8, 64 cells): `JᵀJ` spans e^-316 … 1, far below float32's range. With damping
    and many iterations the step stays finite, decreases the loss and recovers the low frequencies."""
    grid = CenteredGrid(0, extrapolation.PERIODIC, Box(x=64, y=64), x=32, y=32)
    math.seed(3)
    x_true = CenteredGrid(Noise(batch(b=2), scale=20), extrapolation.PERIODIC, grid.bounds, x=32, y=32)
    simulate = lambda x: heat.forward(x, 8.)
    y_target = simulate(x_true)
    x = 0 * x_true
    dx = updates.gauss_newton_krylov(simulate, iterations=30, damping=1e-3)(x, y_target=y_target)
    assert np.all(np.isfinite(dx.values.numpy('b,x,y')))
    loss = lambda v: math.sum((simulate(v) - y_target).values ** 2, lambda s: s.non_batch)
    assert np.all(loss(x + dx).numpy('b') < 1e-2 * loss(x).numpy('b'))
    error = math.sqrt(math.mean((x + dx - x_true).values ** 2, lambda s: s.non_batch))
    assert np.all(error.numpy('b') < .5 * math.std(x_true.values, lambda s: s.non_batch).numpy('b'))


def test_compiled_update_matches_eager(ml_backend):
    x = CenteredGrid(Noise(batch(b=2), scale=4), extrapolation.ZERO, x=8, y=8)
    y_target = poisson.forward(CenteredGrid(Noise(batch(b=2), scale=4), extrapolation.ZERO, x=8, y=8))
    update = updates.gauss_newton_krylov(poisson.forward, iterations=3, damping=1e-2)
    compiled = math.jit_compile(lambda x, y_target: update(x, y_target=y_target))
    eager = update(x, y_target=y_target).values
    for _ in range(2):
        assert float(math.max(abs(compiled(x, y_target).values - eager), lambda s: s)) < 1e-4 * float(math.max(abs(eager), lambda s: s))


def test_spectral_preconditioner_inverts_diffusion_in_one_iteration(ml_backend):
    """For pure diffusion the preconditioner is `(JᵀJ)⁻¹` itself (up to the floor): one iteration suffices."""
    with math.precision(64):
        grid = CenteredGrid(0, extrapolation.PERIODIC, Box(x=16, y=16), x=16, y=16)
        math.seed(4)
        x_true = CenteredGrid(Noise(batch(b=2), scale=8), extrapolation.PERIODIC, grid.bounds, x=16, y=16)
        simulate = lambda x: heat.forward(x, .25)  # |h|² ≥ e^-5 ≈ 7e-3, above the floor
        transfer = math.exp(-heat.decay_exponents(grid, .25, 1.))
        precondition = krylov.spectral_preconditioner(transfer, 1e-8)
        plain = updates.gauss_newton_krylov(simulate, iterations=1)(0 * x_true, y_target=simulate(x_true))
        preconditioned = updates.gauss_newton_krylov(simulate, 1, preconditioner=precondition)(0 * x_true, y_target=simulate(x_true))
        error = lambda dx: float(math.max(abs(dx.values - x_true.values), lambda s: s))
        assert error(preconditioned) < 1e-5 and error(plain) > .1


def test_invalid_settings_and_backends_are_rejected():
    with pytest.raises(ValueError, match='iterations'):
        updates.gauss_newton_krylov(lambda x: x, iterations=0)
    with pytest.raises(ValueError, match='damping'):
        updates.gauss_newton_krylov(lambda x: x, damping=-1.)
    with pytest.raises(ValueError, match='floor'):
        krylov.spectral_preconditioner(math.ones(spatial(x=4)), 0.)
    with math.NUMPY:
        x = math.zeros(batch(b=1), channel(inp=5))
        with pytest.raises(NotImplementedError, match='PyTorch, TensorFlow or JAX'):
            updates.gauss_newton_krylov(matrix_forward(A))(x, y_target=math.zeros(batch(b=1), channel(out=7)))
