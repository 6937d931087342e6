import numpy as np
import pytest
from phi import math
from phi.math import batch

from phi_inverse.physics import TIME, sde

TIMES = np.array([0., .1, .15, .35, .4, .7])  # uneven steps


def test_noise_free_euler_paths_follow_the_product_formula(backend):
    """For `f = −λx` each Euler step multiplies by `1 − λΔt_m`, so `x_m = x_0·Π_{j<m}(1 − λΔt_j)`."""
    rate, x0 = 2., math.tensor([1., -3.], batch('examples'))
    times = math.tensor(TIMES, batch(TIME))
    paths = sde.euler_maruyama(sde.euler_step(lambda x: -rate * x), x0, 0., sde.increments(times))
    assert paths.shape.get_size(TIME) == len(TIMES) and paths.default_backend == backend
    expected = np.cumprod(np.concatenate([[1.], 1 - rate * np.diff(TIMES)]))[:, None] * np.array([1., -3.])
    np.testing.assert_allclose(paths.numpy('time,examples'), expected, rtol=1e-5)


def test_noise_accumulates_to_g_squared_times_elapsed_time(backend):
    math.seed(0)
    x0 = math.zeros(batch(examples=4000))
    paths = sde.euler_maruyama(lambda x, dt: x, x0, .5, list(np.diff(TIMES)))
    end = paths[{TIME: -1}]
    assert float(math.mean(end, 'examples')) == pytest.approx(0, abs=.03)
    assert float(math.std(end, 'examples')) ** 2 == pytest.approx(.25 * TIMES[-1], rel=.08)


def test_increments_of_one_time_grid_per_example(backend):
    times = math.tensor([[0., .1, .3], [0., .2, .3]], batch('examples', TIME))
    steps = sde.increments(times)
    assert len(steps) == 2
    math.assert_close(steps[0], [.1, .2], abs_tolerance=1e-7)
    math.assert_close(steps[1], [.2, .1], abs_tolerance=1e-7)


def test_reverse_drift_negates_the_drift(backend):
    drift = lambda x: -7. * math.sign(x) * x ** 2
    x = math.tensor([-.5, .25, 2.], batch('examples'))
    math.assert_close(sde.reverse_drift(drift)(x), 7. * math.sign(x) * x ** 2)
