import numpy as np
import pytest
from phi import math
from phi.field import CenteredGrid
from phi.math import batch, extrapolation

from phi_inverse.physics import stochastic_heat
from phi_inverse.smdp.metrics import radial_power_spectrum


def sine_grid(k: int, resolution: int = 32):
    return CenteredGrid(lambda p: math.sin(k * p.vector['x']) * math.cos(2 * p.vector['y']), extrapolation.PERIODIC,
                        stochastic_heat.DOMAIN, x=resolution, y=resolution)


def test_a_mode_decays_with_its_integer_wavenumber(backend):
    for k in (1, 3, 7):
        x = sine_grid(k)
        math.assert_close(stochastic_heat.deterministic_step(x, .05, diffusivity=2.).values, x.values * np.exp(-2 * (k ** 2 + 4) * .05), abs_tolerance=1e-5)


def test_wavenumbers_follow_the_grid_spacing(backend):
    """On a 4π box the same cell pattern has half the wavenumber, so it decays four times slower in the exponent."""
    x = sine_grid(3)
    wide = CenteredGrid(x.values, extrapolation.PERIODIC, bounds=stochastic_heat.DOMAIN.scaled(2), x=32, y=32)
    math.assert_close(stochastic_heat.deterministic_step(wide, .05).values, x.values * np.exp(-(9 + 4) / 4 * .05), abs_tolerance=1e-5)


def test_negative_time_step_undoes_diffusion(backend):
    math.seed(0)
    x = stochastic_heat.gaussian_random_field(batch(examples=2), 16)
    back = stochastic_heat.deterministic_step(stochastic_heat.deterministic_step(x, .02), -.02)
    math.assert_close(back.values, x.values, abs_tolerance=1e-4)


def test_a_step_adds_noise_of_scale_g_sqrt_dt(backend):
    math.seed(0)
    x = CenteredGrid(0, extrapolation.PERIODIC, stochastic_heat.DOMAIN, x=64, y=64)
    noisy = stochastic_heat.simulate(x, math.tensor([0., .04], batch('time')), diffusion=.5).time[-1]
    assert float(math.std(noisy.values, noisy.values.shape)) == pytest.approx(.5 * .2, rel=.05)


def test_simulate_stacks_states_along_time(backend):
    math.seed(0)
    x0 = stochastic_heat.gaussian_random_field(batch(examples=3), 16)
    times = math.tensor(np.linspace(0, .2, 5), batch('time'))
    trajectory = stochastic_heat.simulate(x0, times, diffusion=0.)
    assert trajectory.shape.get_size('time') == 5
    math.assert_close(trajectory.time[-1].values, stochastic_heat.deterministic_step(x0, .2).values, abs_tolerance=1e-5)


def test_simulate_without_noise_follows_the_grid_spacing_and_each_examples_times(backend):
    """Uneven steps that differ per example, on a 4π box: the noiseless path ends where one exact step lands."""
    x0 = stochastic_heat.gaussian_random_field(batch(examples=2), 16)
    wide = CenteredGrid(x0.values, extrapolation.PERIODIC, bounds=stochastic_heat.DOMAIN.scaled(2), x=16, y=16)
    times = math.tensor([[0., .03, .05, .2], [0., .1, .15, .4]], batch('examples,time'))
    trajectory = stochastic_heat.simulate(wide, times, diffusion=0.)
    math.assert_close(trajectory.time[-1].values, stochastic_heat.deterministic_step(wide, math.tensor([.2, .4], batch('examples'))).values,
                      abs_tolerance=1e-5)


def test_random_fields_have_unit_variance_and_a_k_to_the_minus_4_spectrum(backend):
    math.seed(0)
    x = stochastic_heat.gaussian_random_field(batch(examples=64), 32)
    assert float(math.mean(x.values ** 2, x.values.shape)) == pytest.approx(1, rel=.1)
    spectrum = math.mean(radial_power_spectrum(x), 'examples').numpy('radius')
    k = np.fft.fftfreq(32, 1 / 32)
    magnitude = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    radius = np.arange(1, 15)
    expected = np.array([np.mean(magnitude[np.floor(magnitude + 1e-9) == r] ** -4.) for r in radius])
    slope = np.polyfit(np.log(radius), np.log(spectrum[radius] / expected), 1)[0]
    assert abs(slope) < .2, slope


def test_non_periodic_grid_is_rejected():
    x = CenteredGrid(0, extrapolation.ZERO, x=8, y=8)
    with pytest.raises(ValueError, match='PERIODIC'):
        stochastic_heat.deterministic_step(x, .1)


def simulated_test_data(count: int = 400, resolution: int = 16, steps: int = 8, end_time: float = .2, diffusion: float = .3):
    times = math.tensor(np.linspace(0, end_time, steps + 1), batch('time'))
    with math.NUMPY:
        math.seed(0)
        x0 = stochastic_heat.gaussian_random_field(batch(examples=count), resolution)
        x_end = stochastic_heat.simulate(x0, times, diffusion)[{'time': -1}]
    return x0, x_end, times, diffusion


def test_noise_variance_is_the_variance_of_simulated_noise():
    """Simulating from x_0 = 0 leaves the noise alone; its Fourier coefficients' variance is the analytic sum."""
    x0, _, times, diffusion = simulated_test_data()
    with math.NUMPY:
        math.seed(1)
        noise = stochastic_heat.simulate(x0 * 0, times, diffusion)[{'time': -1}]
        measured = math.mean(abs(math.fft(noise.values)) ** 2, 'examples') / 16 ** 2
        expected = stochastic_heat.noise_variance(x0, times, diffusion)
    np.testing.assert_allclose(measured.numpy('x,y'), expected.numpy('x,y'), rtol=.3)
    np.testing.assert_allclose(float(math.sum(measured)), float(math.sum(expected)), rtol=.03)


def test_posterior_mean_reaches_its_analytic_error_and_no_other_filter_beats_it():
    x0, x_end, times, diffusion = simulated_test_data()
    with math.NUMPY:
        gain, prior = stochastic_heat.decay(x0, .2), stochastic_heat.prior_variance(x0)
        noise = stochastic_heat.noise_variance(x0, times, diffusion)
        mean, variance = stochastic_heat.posterior(x_end, gain, prior, noise)

        def error(estimate):
            return float(np.mean((estimate.values - x0.values).numpy('examples,x,y') ** 2))
        assert error(mean) == pytest.approx(float(np.mean(variance.numpy('x,y'))), rel=.05)
        for scale in (.8, 1.25):
            assert error(mean) < error(mean.with_values(mean.values * scale))
        assert error(mean) < error(stochastic_heat.posterior(x_end, gain, prior, noise * 3)[0])
        math.seed(2)
        sample = stochastic_heat.posterior_sample(mean, variance)
        assert error(sample) == pytest.approx(2 * error(mean), rel=.1)  # a sample misses by the mean's error twice
