import numpy as np
import pytest
from phi import math
from phi.math import batch

from phi_inverse.physics import toy_sde


def test_affine_score_is_the_gradient_of_the_log_mixture_density(backend):
    x = np.linspace(-1.2, 1.2, 41)
    t, rate, g = .8, .5, .2

    def log_density(values):
        means = [toy_sde.affine_marginal(m, t, rate, g)[0] for m in (-1, 1)]
        variance = float(toy_sde.affine_marginal(1, t, rate, g)[1])
        return np.log(sum(np.exp(-(values - float(m)) ** 2 / (2 * variance)) for m in means))
    numeric = (log_density(x + 1e-5) - log_density(x - 1e-5)) / 2e-5
    analytic = toy_sde.affine_score(math.tensor(x, batch('x')), math.tensor(t), rate, g).numpy()
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-3)


def test_noise_free_quadratic_paths_follow_the_analytic_solution(backend):
    x0 = math.tensor([1., -1.], batch('examples'))
    paths = toy_sde.simulate(toy_sde.quadratic_drift(7.), x0, 0., 1e-3, 800)
    t = np.arange(801) * 1e-3
    np.testing.assert_allclose(paths.numpy('time,examples')[:, 0], 1 / (1 + 7 * t), rtol=1e-2)
    np.testing.assert_allclose(paths.numpy('time,examples')[:, 1], -1 / (1 + 7 * t), rtol=1e-2)


def test_affine_paths_have_the_analytic_marginal(backend):
    math.seed(0)
    paths = toy_sde.simulate(toy_sde.affine_drift(.5), math.ones(batch(examples=4000)), .3, .01, 200)
    mean, variance = toy_sde.affine_marginal(1., math.tensor(2.), .5, .3)
    end = paths.time[-1]
    assert float(math.mean(end, 'examples')) == pytest.approx(float(mean), abs=.02)
    assert float(math.std(end, 'examples')) ** 2 == pytest.approx(float(variance), rel=.08)
