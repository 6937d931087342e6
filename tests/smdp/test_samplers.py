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


@pytest.mark.parametrize('trained_with, ode_shift, sde_shift', [(smdp.ONE_STEP, .5, 1.), (smdp.ISM, .5, 1.), (smdp.MULTI_STEP, 1., 1.)])
def test_correction_factor_follows_the_training_loss(trained_with, ode_shift, sde_shift, backend):
    """A constant correction `s = 1` over a unit time interval moves `x` by exactly `C`."""
    x_end = math.tensor([0., 1.], batch('examples'))
    constant = lambda x, t: math.ones_like(x)
    ode = smdp.sample(x_end, grid_times(), smdp.probability_flow(smdp.no_physics, constant, trained_with))
    math.assert_close(ode, x_end + ode_shift, rel_tolerance=1e-5)
    sde_drift = smdp.sample(x_end, grid_times(), smdp.reverse_sde(smdp.no_physics, constant, 0., trained_with))
    math.assert_close(sde_drift, x_end + sde_shift, rel_tolerance=1e-5)
    overridden = smdp.sample(x_end, grid_times(), smdp.probability_flow(smdp.no_physics, constant, trained_with, correction_factor=.25))
    math.assert_close(overridden, x_end + .25, rel_tolerance=1e-5)


def test_a_correction_without_its_training_loss_is_rejected():
    constant = lambda x, t: math.ones_like(x)
    with pytest.raises(TypeError, match='trained_with=smdp.MULTI_STEP'):
        smdp.probability_flow(smdp.no_physics, constant)
    with pytest.raises(TypeError, match='trained_with=smdp.MULTI_STEP'):
        smdp.reverse_sde(smdp.no_physics, constant, .1)
    with pytest.raises(TypeError, match=r'correction_factor=0\.5'):
        smdp.probability_flow(smdp.no_physics, constant, .5)
    smdp.probability_flow(smdp.no_physics, None)  # the physics alone needs no factor
    smdp.probability_flow(smdp.no_physics, constant, correction_factor=.5)


def test_sde_noise_accumulates_to_g_squared_times_duration(backend):
    math.seed(0)
    x_end = math.zeros(batch(examples=4000))
    x0 = smdp.sample(x_end, grid_times(20, 2.), smdp.reverse_sde(smdp.no_physics, None, lambda t: .3 + 0 * t))
    assert float(math.std(x0, x0.shape)) == pytest.approx(.3 * np.sqrt(2.), rel=.05)


def test_many_posterior_samples_in_one_call(backend):
    math.seed(0)
    x_end = math.tensor([0., 1., 2.], batch('examples'))
    correction = lambda x, t: -x
    sde = smdp.sample(x_end, grid_times(), smdp.reverse_sde(smdp.no_physics, correction, .5, smdp.ONE_STEP), samples=7)
    assert sde.shape.get_size(SAMPLE) == 7 and sde.shape.get_size('examples') == 3
    assert np.std(sde.numpy('sample,examples'), axis=0).min() > .05
    ode = smdp.sample(x_end, grid_times(), smdp.probability_flow(smdp.no_physics, correction, smdp.ONE_STEP), samples=7)
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


def test_score_of_divides_by_g_squared_and_follows_the_training_loss(backend):
    """1-step: `s = g²·∇log p`; multi-step: `s = ½g²·∇log p`, the probability-flow drift."""
    for trained_with, expected in ((smdp.ONE_STEP, .5), (smdp.ISM, .5), (smdp.MULTI_STEP, 1.)):
        score = smdp.score_of(lambda x, t: x, lambda t: 2 * t, trained_with)
        math.assert_close(score(math.tensor(8.), math.tensor(2.)), expected)


def test_samplers_on_grids_match_the_closed_form_of_a_linear_reverse_step(backend):
    """`P̃⁻¹ = 2x − P_Δt(x)` (heat) with `s = −a·x` multiplies each Fourier mode by `f_k = 2 − e^{−|k|²Δt} − C·a·Δt`.

    The ODE (and the SDE without noise) therefore gives `x̂_0 = F⁻¹(f_k^M·F(x_T))`, computed here with NumPy; with
    noise, every sample deviates from it by `Σ_j f_k^{M−j}·g√Δt·z_j`, of mean square `g²Δt·mean_k Σ_p f_k^{2p}`.
    """
    res, steps, end, rate, g = 16, 4, .2, 1.5, .1
    with math.NUMPY:
        math.seed(0)
        grid = math.convert(CenteredGrid(Noise(batch(examples=2)), extrapolation.PERIODIC, stochastic_heat.DOMAIN, x=res, y=res))
    physics, correction = smdp.negated_increment(stochastic_heat.deterministic_step), lambda x, t: -rate * x
    k = np.fft.fftfreq(res, 1 / res)
    decay = np.exp(-(k[:, None] ** 2 + k[None, :] ** 2) * end / steps)

    def closed_form(factor):
        gain = (2 - decay - factor * rate * end / steps) ** steps
        return np.real(np.fft.ifft2(np.fft.fft2(grid.values.numpy('examples,x,y')) * gain))
    times = grid_times(steps, end)
    ode = smdp.sample(grid, times, smdp.probability_flow(physics, correction, smdp.MULTI_STEP))
    assert ode.is_grid and ode.extrapolation == grid.extrapolation and ode.resolution == grid.resolution
    np.testing.assert_allclose(ode.values.numpy('examples,x,y'), closed_form(1.), rtol=1e-4, atol=1e-4)
    noise_free = smdp.sample(grid, times, smdp.reverse_sde(physics, correction, 0., smdp.ONE_STEP), samples=3)
    assert noise_free.shape.get_size(SAMPLE) == 3
    np.testing.assert_allclose(noise_free.values.numpy('sample,examples,x,y'), np.stack([closed_form(1.)] * 3), rtol=1e-4, atol=1e-4)
    half = smdp.sample(grid, times, smdp.probability_flow(physics, correction, smdp.ONE_STEP))
    np.testing.assert_allclose(half.values.numpy('examples,x,y'), closed_form(.5), rtol=1e-4, atol=1e-4)
    math.seed(1)
    noisy = smdp.sample(grid, times, smdp.reverse_sde(physics, correction, g, smdp.ONE_STEP), samples=64)
    deviation = noisy.values.numpy('sample,examples,x,y') - closed_form(1.)
    mode_gain = 2 - decay - rate * end / steps
    expected = g ** 2 * end / steps * np.mean(sum(mode_gain ** (2 * p) for p in range(steps)))
    assert np.mean(deviation ** 2) == pytest.approx(expected, rel=.1)
