import numpy as np
import pytest
from phi import math
from phi.field import CenteredGrid, Noise
from phi.math import batch, extrapolation

from phi_inverse import smdp
from phi_inverse.physics import stochastic_heat
from phi_inverse.smdp.samplers import SAMPLE, TIME


def grid_times(steps=10, end=1.):
    return math.tensor(np.linspace(0, end, steps + 1), batch(TIME))


def test_ode_applies_half_the_correction_by_default(backend):
    x_end = math.tensor([0., 1.], batch('examples'))
    constant = lambda x, t: math.ones_like(x)
    ode = smdp.sample(x_end, grid_times(), smdp.probability_flow(smdp.no_physics, constant))
    math.assert_close(ode, x_end + .5, rel_tolerance=1e-5)
    sde_drift = smdp.sample(x_end, grid_times(), smdp.reverse_sde(smdp.no_physics, constant, 0.))
    math.assert_close(sde_drift, x_end + 1, rel_tolerance=1e-5)


def test_sde_noise_accumulates_to_g_squared_times_duration(backend):
    math.seed(0)
    x_end = math.zeros(batch(examples=4000))
    x0 = smdp.sample(x_end, grid_times(20, 2.), smdp.reverse_sde(smdp.no_physics, None, lambda t: .3 + 0 * t))
    assert float(math.std(x0, x0.shape)) == pytest.approx(.3 * np.sqrt(2.), rel=.05)


def test_many_posterior_samples_in_one_call(backend):
    math.seed(0)
    x_end = math.tensor([0., 1., 2.], batch('examples'))
    correction = lambda x, t: -x
    sde = smdp.sample(x_end, grid_times(), smdp.reverse_sde(smdp.no_physics, correction, .5), samples=7)
    assert sde.shape.get_size(SAMPLE) == 7 and sde.shape.get_size('examples') == 3
    assert np.std(sde.numpy('sample,examples'), axis=0).min() > .05
    ode = smdp.sample(x_end, grid_times(), smdp.probability_flow(smdp.no_physics, correction), samples=7)
    assert np.std(ode.numpy('sample,examples'), axis=0).max() < 1e-6  # (PhiML 1.16's math.std is wrong along expanded dims)


def test_trajectory_runs_from_x0_to_the_observation(backend):
    x_end = math.tensor([1., 2.], batch('examples'))
    trajectory = smdp.sample(x_end, grid_times(4), smdp.probability_flow(smdp.euler(lambda x: x), None), trajectory=True)
    assert trajectory.shape.get_size(TIME) == 5
    math.assert_close(trajectory[{TIME: -1}], x_end)
    math.assert_close(trajectory[{TIME: 0}], x_end * 1.25 ** 4, rel_tolerance=1e-5)


def test_langevin_corrector_samples_a_gaussian(backend):
    math.seed(0)
    mean, std = 2., .5
    corrector = smdp.langevin(lambda x, t: (mean - x) / std ** 2, step_size=.01, steps=400)
    x = corrector(math.zeros(batch(examples=4000)), 0.)
    assert float(math.mean(x, x.shape)) == pytest.approx(mean, abs=.05)
    assert float(math.std(x, x.shape)) == pytest.approx(std, rel=.1)


def test_score_of_divides_by_g_squared(backend):
    score = smdp.score_of(lambda x, t: x, lambda t: 2 * t)
    math.assert_close(score(math.tensor(8.), math.tensor(2.)), .5)


def test_samplers_run_on_grids_with_physics(backend):
    math.seed(0)
    grid = CenteredGrid(Noise(batch(examples=2)), extrapolation.PERIODIC, stochastic_heat.DOMAIN, x=16, y=16)
    physics = smdp.negated_increment(stochastic_heat.deterministic_step)
    samples = smdp.sample(grid, grid_times(4, .2), smdp.reverse_sde(physics, lambda x, t: -x * 0, .1), samples=3)
    assert samples.is_grid and samples.shape.get_size(SAMPLE) == 3 and samples.resolution == grid.resolution
    assert samples.extrapolation == grid.extrapolation
