import numpy as np
import pytest
from phi import math
from phi.field import CenteredGrid
from phi.math import batch, channel

from phi_inverse.support import backends
from phi_inverse import derivatives, updates
from phi_inverse.physics import sine2d

A = np.array([[3., 1.], [1., .5]])
VECTOR = channel(vector='a,b')


def linear(x):
    """`P(x) = Ax`, so `L` is quadratic with Hessian `AᵀA`."""
    a, b = x.vector['a'], x.vector['b']
    return math.stack([A[0, 0] * a + A[0, 1] * b, A[1, 0] * a + A[1, 1] * b], VECTOR)


def sine(x):
    return sine2d.forward(x, xi=1., phi=np.deg2rad(30), gamma=1.)


def tensor(array):
    return math.tensor(np.asarray(array, np.float32), batch('b'), VECTOR)


def numbers(t):
    return t.numpy('b,vector')


def sine_reference(x: np.ndarray, y: np.ndarray):
    """Gradient and Hessian of `½‖P(x) − y‖²` for `sine` (ξ = γ = 1), derived by hand."""
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    z = x @ rotation.T
    r1, r2 = np.sin(z[:, 0]) - y[:, 0], z[:, 1] - y[:, 1]
    g = (r1 * np.cos(z[:, 0]))[:, None] * rotation[0] + r2[:, None] * rotation[1]
    curvature = np.cos(z[:, 0]) ** 2 - r1 * np.sin(z[:, 0])
    h = curvature[:, None, None] * np.outer(rotation[0], rotation[0]) + np.outer(rotation[1], rotation[1])
    return g, h


X = np.array([[.3, -.2], [1.2, .4], [-.7, .9], [2.5, -1.]])
Y = np.array([[.5, .1], [-.3, .6], [.9, -.4], [.0, .2]])


def test_gradient_and_hessian_match_the_hand_derivation(ml_backend):
    g, h = derivatives.gradient_and_hessian(derivatives.inverse_problem_loss(sine, tensor(Y)), tensor(X))
    g_ref, h_ref = sine_reference(X, Y)
    np.testing.assert_allclose(g.numpy('b,parameter'), g_ref, atol=1e-5)
    np.testing.assert_allclose(h.numpy('b,parameter,~parameter'), h_ref, atol=1e-5)


def test_newton_solves_a_quadratic_in_one_step(ml_backend):
    x, y_target = tensor(X), tensor(Y)
    dx = updates.newton(linear)(x, y_target=y_target)
    np.testing.assert_allclose(numbers(x + dx), np.linalg.solve(A, Y.T).T, atol=1e-4)
    assert np.abs(numbers(dx)).max() > 1


def test_newton_updates_agree_with_numpy_eigendecomposition(ml_backend):
    """Newton, saddle-free and damped steps against `numpy.linalg.eigh` of the hand-derived Hessian."""
    g, h = sine_reference(X, Y)
    eigenvalues, vectors = np.linalg.eigh(h)
    slope = np.einsum('bpk,bp->bk', vectors, g)
    weak = np.log(abs(eigenvalues)) <= np.log(abs(eigenvalues)).mean(1, keepdims=True)
    limited = np.where(weak, np.minimum(abs(slope) / abs(eigenvalues), .05 / abs(slope)), abs(slope) / abs(eigenvalues))
    expected = {
        'newton': -np.einsum('bpk,bk->bp', vectors, slope / eigenvalues),
        'saddle_free': -np.einsum('bpk,bk->bp', vectors, slope / abs(eigenvalues)),
        'limited': -np.einsum('bpk,bk->bp', vectors, np.sign(slope) * limited),
        'damped': -np.einsum('bpk,bk->bp', vectors, np.clip(slope / (abs(eigenvalues) + .5), -.3, .3)),
    }
    computed = {
        'newton': updates.newton(sine),
        'saddle_free': updates.saddle_free_newton(sine),
        'limited': updates.saddle_free_newton(sine, max_loss_change=.05),
        'damped': updates.damped_newton(sine, damping=.5, max_step=.3),
    }
    assert (eigenvalues < 0).any(), "the test points should include a region of negative curvature"
    for name, update in computed.items():
        np.testing.assert_allclose(numbers(update(tensor(X), y_target=tensor(Y))), expected[name], atol=2e-4, err_msg=name)


def test_saddle_free_newton_never_increases_the_loss_near_a_saddle(ml_backend):
    """Around `sin z₁ = −1` with `y₁* = 1` the loss has a saddle: a maximum along z₁, a minimum along z₂."""
    rng = np.random.default_rng(0)
    saddle = np.linalg.solve(np.array([[np.cos(np.deg2rad(30)), -np.sin(np.deg2rad(30))], [np.sin(np.deg2rad(30)), np.cos(np.deg2rad(30))]]), [-np.pi / 2, 0.])
    x = tensor(saddle + rng.normal(0, .3, (64, 2)))
    y_target = tensor(np.tile([1., 0.], (64, 1)))
    loss = derivatives.inverse_problem_loss(sine, y_target)
    for update in (updates.saddle_free_newton(sine), updates.saddle_free_newton(sine, max_loss_change=.2)):
        change = numbers_1d(loss(x + update(x, y_target=y_target)) - loss(x))
        assert change.max() <= 1e-6
    newton_change = numbers_1d(loss(x + updates.newton(sine)(x, y_target=y_target)) - loss(x))
    assert newton_change.max() > 1e-3, "plain Newton should climb towards the saddle for some points"


def numbers_1d(t):
    return t.numpy('b')


def test_normalized_gradient_has_unit_components_pointing_downhill(ml_backend):
    dx = updates.normalized_gradient(sine)(tensor(X), y_target=tensor(Y))
    g_ref, _ = sine_reference(X, Y)
    np.testing.assert_array_equal(numbers(dx), -np.sign(g_ref))
    assert np.all(abs(numbers(dx)) == 1)


def test_normalized_gradient_of_a_field(torch_backend):
    x = CenteredGrid(lambda p: math.sin(p.vector['x']), 0, x=8, y=8)
    dx = updates.normalized_gradient(lambda f: f * 2)(x, y_target=x * 3)  # ∂L/∂x = 2(2x − 3x) = −2x
    assert isinstance(dx, type(x))
    np.testing.assert_array_equal(dx.values.numpy('x,y'), np.sign(x.values.numpy('x,y')))


def test_saddle_free_limit_bounds_the_weakly_curved_components(torch_backend):
    """The limit caps the predicted loss change of the less curved eigen-component; the stiffer one keeps Newton's step."""
    x, y_target = tensor(X), tensor(Y)
    g, h = derivatives.gradient_and_hessian(derivatives.inverse_problem_loss(sine, y_target), x)
    u, s, _ = derivatives.symmetric_decomposition(h)
    slope = derivatives.to_eigenbasis(u, g).numpy('b,eigen')
    limited = derivatives.to_eigenbasis(u, derivatives.flatten(updates.saddle_free_newton(sine, max_loss_change=.01)(x, y_target=y_target))).numpy('b,eigen')
    free = derivatives.to_eigenbasis(u, derivatives.flatten(updates.saddle_free_newton(sine)(x, y_target=y_target))).numpy('b,eigen')
    weak = s.numpy('b,eigen') <= s.numpy('b,eigen').max(1, keepdims=True) * (1 - 1e-6)
    assert np.all(slope * limited <= 1e-7), "every component goes downhill"
    np.testing.assert_allclose(abs(slope * limited)[weak], np.minimum(abs(slope * free)[weak], .01), rtol=1e-4)
    np.testing.assert_allclose(limited[~weak], free[~weak], rtol=1e-5)
    assert abs(slope * free)[weak].max() > .01, "the limit should be active somewhere"


def test_damped_newton_tends_to_gradient_descent(torch_backend):
    dx = updates.damped_newton(sine, damping=1e4)(tensor(X), y_target=tensor(Y))
    g_ref, _ = sine_reference(X, Y)
    np.testing.assert_allclose(numbers(dx) * 1e4, -g_ref, rtol=1e-3, atol=1e-5)


def test_exponential_scalar_parameters():
    """Per-example scalars (no vector dimension), as in P(x) = eˣ: Newton's step on ½(eˣ − y)²."""
    with backends.get('torch'):
        x = math.tensor([-1., -5., -9.], batch('b'))
        y_target = math.exp(math.tensor([0., -6., -10.], batch('b')))
        dx = updates.newton(math.exp)(x, y_target=y_target).numpy('b')
    e, y = np.exp([-1., -5., -9.]), np.exp([0., -6., -10.])
    np.testing.assert_allclose(dx, -(e - y) * e / (2 * e ** 2 - y * e), rtol=1e-4)


@pytest.mark.parametrize('method', ['L-BFGS-B', 'Gauss-Newton'])
def test_iterative_inverse_converges_to_the_solution(ml_backend, method):
    x_true = np.array([[.4, -.3], [-.2, .5], [.1, .1]])
    y_target = sine(tensor(x_true))
    dx = updates.iterative_inverse(sine, 10, method)(tensor(x_true + .2), y_target=y_target)
    np.testing.assert_allclose(numbers(tensor(x_true + .2) + dx), x_true, atol=1e-3)


def test_one_gauss_newton_iteration_on_a_linear_problem_is_newtons_step(torch_backend):
    x, y_target = tensor(X), tensor(Y)
    gauss_newton = updates.iterative_inverse(linear, 1, 'Gauss-Newton')(x, y_target=y_target)
    np.testing.assert_allclose(numbers(gauss_newton), numbers(updates.newton(linear)(x, y_target=y_target)), atol=1e-4)


def test_few_lbfgs_iterations_are_a_partial_update(torch_backend):
    x, y_target = tensor(X + .5), tensor(Y)
    loss = derivatives.inverse_problem_loss(sine, y_target)
    one = loss(x + updates.iterative_inverse(sine, 1)(x, y_target=y_target))
    many = loss(x + updates.iterative_inverse(sine, 50)(x, y_target=y_target))
    assert np.all(numbers_1d(many) <= numbers_1d(one) + 1e-6) and np.all(numbers_1d(one) < numbers_1d(loss(x)))


def test_compiled_update_equals_the_eager_one(ml_backend):
    update = updates.saddle_free_newton(sine, max_loss_change=.2)
    compiled = updates.compiled(update)
    for shift in (0., .1):  # the second call reuses the trace
        x = tensor(X + shift)
        np.testing.assert_allclose(numbers(compiled(x, y_target=tensor(Y))), numbers(update(x, y_target=tensor(Y))), atol=1e-4)


def test_numpy_input_names_the_fix():
    with backends.get('numpy'):
        with pytest.raises(NotImplementedError, match='PyTorch, TensorFlow or JAX'):
            updates.newton(sine)(tensor(X), y_target=tensor(Y))


def test_hessian_of_a_field_points_to_the_alternatives(torch_backend):
    x = CenteredGrid(0, 0, x=4, y=4)
    with pytest.raises(TypeError, match='normalized_gradient'):
        updates.saddle_free_newton(lambda f: f)(x, y_target=x)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match='iterations'):
        updates.iterative_inverse(sine, 0)
    with pytest.raises(ValueError, match='Gauss-Newton'):
        updates.iterative_inverse(sine, 3, 'BFGS')
    with pytest.raises(ValueError, match='damping'):
        updates.damped_newton(sine, damping=-1)
