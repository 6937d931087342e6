"""Tests of the score-matching losses (`phi_inverse.smdp.score_matching`) against known scores and derivatives.

* The exact derivative (automatic differentiation) equals a central difference of a network, and on a linear map
  `s(x) = Ax` the divergence is `tr A` and the projection `vᵀAv`, on every backend.
* Where the default derivative is automatic differentiation, it can be differentiated again (training).
* On the affine SDE `dx = −λx dt + g dW` with its analytic score, the minimiser of implicit and sliced score
  matching with scale `g²` over the family `s = a·g²·∇ₓ log p_t + b·x` is `a = 1`, `b = 0`.
"""
import numpy as np
import pytest
from phi import math
from phi.math import batch, channel

from phi_inverse import smdp
from phi_inverse.physics import toy_sde
from phi_inverse.smdp.score_matching import AUTODIFF, CENTRAL, NESTING_BACKENDS

RATE, DIFFUSION, DT, STEPS = .5, .04, .02, 100


def test_autodiff_divergence_equals_central_difference_of_a_network(ml_backend):
    from phi_inverse.support import networks
    math.seed(0)
    net = networks.mlp(2, 1, [16, 16], 'ELU')
    t = math.tensor(np.linspace(.1, 5, 64, dtype=np.float32), batch('examples'))

    def score(x):
        return math.native_call(net, math.stack([x / .1, math.log(t)], channel(vector='x,log_t'))).vector[0]
    x = math.tensor(np.linspace(-.3, .3, 64, dtype=np.float32), batch('examples'))
    exact = smdp.divergence(score, x, AUTODIFF).numpy()
    central = smdp.divergence(score, x, CENTRAL, step=1e-3).numpy()
    assert np.std(exact) > .1
    np.testing.assert_allclose(central, exact, rtol=2e-3, atol=2e-3 * np.abs(exact).max())


@pytest.mark.parametrize('derivative', [AUTODIFF, CENTRAL])
def test_divergence_and_projection_of_a_linear_map(ml_backend, derivative):
    matrix = math.tensor([[1., 2.], [-3., 4.]], channel(vector='x,y'), channel(out='x,y'))
    x = math.random_normal(batch(examples=5), channel(vector='x,y'))
    v = math.random_normal(batch(examples=5), channel(vector='x,y'))

    def score(x_):
        return math.rename_dims(math.dot(matrix, 'vector', x_, 'vector'), 'out', 'vector')
    np.testing.assert_allclose(smdp.divergence(score, x, derivative).numpy('examples'), 5., rtol=1e-3)
    quadratic = math.sum(v * score(v), 'vector').numpy('examples')
    np.testing.assert_allclose(smdp.directional_derivative(score, x, v, derivative).numpy('examples'), quadratic, rtol=1e-3, atol=1e-4)


def test_default_derivative_trains_where_it_is_automatic(ml_backend):
    """The loss gradient w.r.t. a parameter `θ` of `s = θx³` must include the divergence term `3g²x²`."""
    if smdp.default_derivative() != AUTODIFF:
        assert ml_backend.name not in NESTING_BACKENDS
        pytest.skip(f'{ml_backend.name} computes the divergence by a central difference')
    x = math.tensor(np.linspace(-1, 1, 9, dtype=np.float32), batch('examples'))
    theta = math.tensor(.7)

    def loss(theta_):
        return math.mean(smdp.implicit_score_matching(lambda x_: theta_ * x_ ** 3, x, .3), 'examples')
    gradient = math.gradient(loss, 'theta_', get_output=False)(theta)
    expected = math.mean(3 * .3 * x ** 2 + .7 * x ** 6, 'examples')
    np.testing.assert_allclose(float(gradient), float(expected), rtol=1e-4)


def affine_states(count: int, seed: int = 0):
    """States of the affine SDE at all times `t > 0`, and their times, along `examples`."""
    with math.NUMPY:
        math.seed(seed)
        x0 = math.wrap(np.where(np.arange(count) % 2 == 0, 1., -1.), batch('examples'))
        paths = toy_sde.simulate(toy_sde.affine_drift(RATE), x0, DIFFUSION, DT, STEPS)
    t = math.expand(math.tensor(np.arange(STEPS + 1) * DT, batch('time')), paths.shape)
    x, t = paths.time[1:], t.time[1:]
    return math.convert(math.pack_dims(x, 'examples,time', batch('examples'))), math.convert(math.pack_dims(t, 'examples,time', batch('examples')))


def quadratic_minimiser(loss) -> np.ndarray:
    """The minimiser of a loss quadratic in two parameters, from its values at the origin, the unit vectors and their sum."""
    e = np.eye(2)
    zero, single = loss(np.zeros(2)), [loss(e[i]) for i in range(2)]
    opposite = [loss(-e[i]) for i in range(2)]
    hessian = np.array([[single[i] + opposite[i] - 2 * zero if i == j else loss(e[i] + e[j]) - single[i] - single[j] + zero
                         for j in range(2)] for i in range(2)])
    linear = np.array([(single[i] - opposite[i]) / 2 for i in range(2)])
    return np.linalg.solve(hessian, -linear)


@pytest.mark.parametrize('derivative', [AUTODIFF, CENTRAL])
@pytest.mark.parametrize('estimator', ['implicit', 'sliced'])
def test_minimiser_is_g_squared_times_the_score(torch_backend, estimator, derivative):
    math.set_global_precision(64)
    try:
        x, t = affine_states(4000)
        v = math.random_normal(x.shape)

        def mean_loss(theta) -> float:
            def score(x_):
                return theta[0] * DIFFUSION ** 2 * toy_sde.affine_score(x_, t, RATE, DIFFUSION) + theta[1] * x_
            if estimator == 'implicit':
                per_state = smdp.implicit_score_matching(score, x, DIFFUSION ** 2, derivative, step=1e-6)
            else:
                per_state = smdp.sliced_score_matching(score, x, v, DIFFUSION ** 2, derivative=derivative, step=1e-6)
            return float(math.mean(per_state, 'examples'))
        np.testing.assert_allclose(quadratic_minimiser(mean_loss), [1, 0], atol=.05)
    finally:
        math.set_global_precision(32)


def test_sliced_with_rademacher_projections_is_implicit_in_one_dimension(torch_backend):
    x = math.tensor(np.linspace(-1, 1, 11), batch('examples'))
    signs = math.tensor(np.where(np.arange(11) % 3 == 0, -1., 1.), batch('examples'))
    score = lambda x_: math.sin(3 * x_) + x_ ** 2
    np.testing.assert_allclose(smdp.sliced_score_matching(score, x, signs, .2).numpy(),
                               smdp.implicit_score_matching(score, x, .2).numpy(), rtol=1e-6)
