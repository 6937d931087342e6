import numpy as np
import pytest
from phi import math
from phi.field import CenteredGrid
from phi.math import batch, extrapolation, spatial

from phi_inverse.physics import stochastic_heat
from phi_inverse.smdp.metrics import (mode_fractions, posterior_q, radial_power_spectrum, reconstruction_mse, reconstruction_mse_by_radius,
                                      spectral_error)


def test_posterior_q_rewards_even_hits(backend):
    even = math.tensor([-1.05, -.95, 1.02, .98], batch('examples'))
    assert float(posterior_q(even)) == pytest.approx(1.)
    uneven = math.tensor([-1.] * 3 + [1.] * 7, batch('examples'))
    assert float(posterior_q(uneven)) == pytest.approx(.6)
    missing = math.tensor([-1., 1., .85, float('nan')], batch('examples'))
    math.assert_close(mode_fractions(missing), [.25, .25])
    assert float(posterior_q(missing)) == pytest.approx(.5)


def test_power_spectrum_of_one_mode_sits_at_its_radius(backend):
    grid = CenteredGrid(lambda p: math.cos(3 * p.vector['x']) + .5 * math.sin(5 * p.vector['y']), extrapolation.PERIODIC,
                        stochastic_heat.DOMAIN, x=32, y=32)
    spectrum = radial_power_spectrum(grid).numpy('radius')
    assert np.argsort(spectrum)[-2:].tolist() == [5, 3]
    assert spectrum[3] / spectrum[5] == pytest.approx(4 * (np.sum(_radius_bins(32) == 5) / np.sum(_radius_bins(32) == 3)), rel=1e-3)


def test_spectral_error_is_the_mean_log_ratio(backend):
    math.seed(0)
    x = math.random_normal(batch(examples=2), spatial(x=32, y=32))
    math.assert_close(spectral_error(x, x), 0, abs_tolerance=1e-5)
    math.assert_close(spectral_error(2 * x, x), np.log(4), rel_tolerance=1e-5)


def test_reconstruction_mse_compares_after_the_forward_simulation(backend):
    """Diffusion damps a high-frequency error far more than a low-frequency one of the same size before simulating."""
    x = CenteredGrid(lambda p: math.sin(p.vector['x']), extrapolation.PERIODIC, stochastic_heat.DOMAIN, x=32, y=32)
    errors = {k: CenteredGrid(lambda p: .1 * math.cos(k * p.vector['y']), extrapolation.PERIODIC, stochastic_heat.DOMAIN, x=32, y=32)
              for k in (1, 6)}
    forward = lambda v: stochastic_heat.deterministic_step(v, .05)
    for k, error in errors.items():
        math.assert_close(reconstruction_mse(x + error, x, lambda v: v), .1 ** 2 / 2, rel_tolerance=1e-4)  # before
        math.assert_close(reconstruction_mse(x + error, x, forward), .1 ** 2 / 2 * np.exp(-2 * k ** 2 * .05), rel_tolerance=1e-3)
    tensors = math.tensor([[1., 2.], [3., 4.]], batch('examples'), spatial('x'))
    math.assert_close(reconstruction_mse(tensors + 1, tensors, lambda v: v ** 2), [(9 + 25) / 2, (49 + 81) / 2], rel_tolerance=1e-6)


def test_reconstruction_mse_by_radius_splits_the_mse_over_the_error_scales(backend):
    """Parseval: the bins sum to the MSE computed in space; a cosine error of wavenumber k lands in bin k alone."""
    math.seed(0)
    x = math.random_normal(batch(examples=3), spatial(x=16, y=16))
    error = math.random_normal(x.shape)
    forward = lambda v: stochastic_heat.deterministic_step(CenteredGrid(v, extrapolation.PERIODIC, stochastic_heat.DOMAIN), .02)
    math.assert_close(math.sum(reconstruction_mse_by_radius(x + error, x, forward), 'radius'), reconstruction_mse(x + error, x, forward), rel_tolerance=1e-4)
    zero = CenteredGrid(0, extrapolation.PERIODIC, stochastic_heat.DOMAIN, x=16, y=16)
    for k in (0, 3):
        wave = CenteredGrid(lambda p: .1 * math.cos(k * p.vector['y']), extrapolation.PERIODIC, stochastic_heat.DOMAIN, x=16, y=16)
        by_radius = reconstruction_mse_by_radius(wave, zero, lambda v: v).numpy('radius')
        np.testing.assert_allclose(by_radius[k], .1 ** 2 * (1 if k == 0 else .5), rtol=1e-4)
        np.testing.assert_allclose(np.delete(by_radius, k), 0, atol=1e-9)


def _radius_bins(n):
    k = np.fft.fftfreq(n, 1 / n)
    return np.floor(np.sqrt(k[:, None] ** 2 + k[None, :] ** 2) + 1e-9).astype(int)
