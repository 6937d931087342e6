import pytest
from phi import math
from phi.field import CenteredGrid, Noise
from phi.math import batch, channel, extrapolation

from phi_inverse import sip
from phi_inverse.metrics import values_of
from phi_inverse.physics import poisson


def grid(seed: int, res=8, boundary=extrapolation.ZERO, examples=3):
    math.seed(seed)
    return CenteredGrid(Noise(batch(b=examples), scale=3), boundary, x=res, y=res)


def max_abs(a, b) -> float:
    return float(math.max(abs(values_of(a - b)), dim=lambda s: s))


def gradient_wrt_prediction(loss_function, x_pred):
    return math.gradient(lambda x: math.sum(loss_function(x)[0], batch), 'x', get_output=False)(x_pred)


def test_sip_gradient_is_the_negative_update(ml_backend):
    """∂L̃/∂x̂ = −Δx exactly, with Δx from an independent evaluation of the update."""
    x_pred, y_target = grid(1), poisson.forward(grid(2))
    update = poisson.laplace_update(.5)
    gradient = gradient_wrt_prediction(lambda x: sip.sip_loss(x, y_target, poisson.forward, update), x_pred)
    dx = update(x_pred, y_target=y_target)
    assert max_abs(dx, 0 * dx) > 1
    assert max_abs(gradient, -dx) < 1e-5


def test_sip_gradient_on_tensors_with_a_nonlinear_update(ml_backend):
    """Tensor inputs and an arbitrary update: the gradient is still exactly −Δx, whatever the physics is."""
    math.seed(0)
    x_pred = math.random_normal(batch(b=4), channel(vector='a,b'))
    y_target = math.random_normal(batch(b=4), channel(vector='a,b'))

    def forward(x):
        return math.sin(x) * 3

    def update(x, *, y_target, y=None):
        return math.tanh(y_target - forward(x)) * x

    gradient = gradient_wrt_prediction(lambda x: sip.sip_loss(x, y_target, forward, update), x_pred)
    assert max_abs(gradient, -update(x_pred, y_target=y_target)) < 1e-6


def test_sip_loss_value_is_half_squared_update():
    x_pred, y_target = grid(1), poisson.forward(grid(2))
    loss, y_loss = sip.sip_loss(x_pred, y_target, poisson.forward, poisson.laplace_update())
    expected = math.sum((x_pred - grid(2)).values ** 2, x_pred.shape.spatial) / 2
    assert max_abs(loss, expected) < 1e-3 * float(math.max(expected, batch))
    assert max_abs(y_loss, math.l2_loss((poisson.forward(x_pred) - y_target).values)) < 1e-3 * float(math.max(y_loss, batch))


def test_sip_loss_vanishes_at_the_solution():
    x = grid(1)
    loss, y_loss = sip.sip_loss(x, poisson.forward(x), poisson.forward, poisson.laplace_update())
    assert float(math.max(loss, batch)) < 1e-8 and float(math.max(y_loss, batch)) < 1e-8


def test_physics_loss_backpropagates_through_the_simulation(ml_backend):
    x_pred, y_target = grid(1), poisson.forward(grid(2))
    gradient = gradient_wrt_prediction(lambda x: sip.physics_loss(x, y_target, poisson.forward), x_pred)
    analytic = poisson.forward(poisson.forward(x_pred) - y_target)  # Pᵀ(P(x) − y*), P symmetric
    assert max_abs(gradient, analytic) < 1e-4 * max_abs(analytic, 0 * analytic)


def test_mismatched_resolution_names_the_fix():
    with pytest.raises(ValueError, match='resample'):
        sip.sip_loss(grid(1, res=8), poisson.forward(grid(2, res=16)), poisson.forward, poisson.laplace_update())


def test_mismatched_boundary_names_the_fix():
    y_target = poisson.forward(grid(2, boundary=extrapolation.PERIODIC))
    with pytest.raises(ValueError, match='with_extrapolation'):
        sip.physics_loss(grid(1), y_target, poisson.forward)


def test_mismatched_batch_size_is_reported():
    with pytest.raises(ValueError, match='examples'):
        sip.sip_loss(grid(1, examples=2), poisson.forward(grid(2, examples=3)), poisson.forward, poisson.laplace_update())


def test_field_and_tensor_mix_is_reported():
    x = grid(1)
    with pytest.raises(TypeError, match='both as Fields or both as Tensors'):
        sip.physics_loss(x, poisson.forward(x).values, poisson.forward)


def test_non_finite_target_is_reported():
    x = grid(1)
    y_target = poisson.forward(x)
    y_target = y_target.with_values(math.where(y_target.values > 0, float('nan'), y_target.values))
    with pytest.raises(ValueError, match='non-finite'):
        sip.sip_loss(x, y_target, poisson.forward, poisson.laplace_update())


def test_update_of_wrong_shape_is_reported():
    x = grid(1)

    def bad_update(x, *, y_target, y=None):
        return math.zeros(batch(b=3), channel(vector='a'))

    x_tensor = x.values
    with pytest.raises(ValueError, match='inverse update'):
        sip.sip_loss(x_tensor, x_tensor, lambda v: v, bad_update)


def test_batch_mean_averages_examples():
    loss = math.tensor([1., 2., 6.], batch('b'))
    assert float(sip.batch_mean(loss)) == pytest.approx(3.)
