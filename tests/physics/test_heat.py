import numpy as np
import pytest
from phi import math
from phi.field import CenteredGrid, Noise
from phi.geom import Box
from phi.math import batch, extrapolation
from phi.physics import diffuse

from phi_inverse.physics import heat

PERIODIC = extrapolation.PERIODIC
PAPER_AMOUNT = 8.


def paper_grid(examples=2, res=64, size=64.):
    """The paper's domain: 64x64 unit cells (or `res` cells of size `size/res`)."""
    return CenteredGrid(0, PERIODIC, Box(x=size, y=size), x=res, y=res).with_values(math.zeros(batch(b=examples), math.spatial(x=res, y=res)))


def sinusoids(grid, waves, seed=0):
    """Sum of plane waves `amplitude·cos(2π(k·p) + phase)`, `waves` = [(amplitude, cycles_x, cycles_y)] over the domain."""
    rng = np.random.default_rng(seed)
    size = grid.bounds.size
    examples = grid.shape.batch
    values = 0
    for amplitude, cx, cy in waves:
        phase = math.tensor(rng.uniform(0, 2 * np.pi, examples.volume), examples)
        values += amplitude * math.cos(2 * np.pi * (cx * grid.center['x'] / size['x'] + cy * grid.center['y'] / size['y']) + phase)
    return grid.with_values(values + .3)


def rectangles_minus_estimate(seed=0, res=64):
    """A realistic residual `y* − P(x)`: hot rectangles `x*` against a blurred, perturbed estimate `x`."""
    from phi_inverse.experiments.scenes.heat import hot_rectangles
    grid = CenteredGrid(0, PERIODIC, Box(x=64, y=64), x=res, y=res)
    with math.NUMPY, math.precision(64):
        math.seed(seed)
        x_true = hot_rectangles(grid, batch(b=3))
        x = heat.forward(x_true, .5) + .02 * CenteredGrid(Noise(batch(b=3), scale=8), PERIODIC, grid.bounds, x=res, y=res)
        return heat.forward(x_true, PAPER_AMOUNT) - heat.forward(x, PAPER_AMOUNT)


def reference_damped_inverse(r: np.ndarray, amount: float, dx: float, noise=1e-6, signal=1., confidence=.68) -> np.ndarray:
    """The authors' damped inverse written out directly in float64 NumPy (no log domain): `exp(ℓ)` up to e^158."""
    n = r.shape[-1]
    k = np.fft.fftfreq(n, dx)
    ell = amount * (2 * np.pi) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2)
    spectrum = np.fft.fft2(r)
    amplitude = np.abs(spectrum)
    sigma = noise * np.sqrt(np.sum(r ** 2, axis=(-2, -1), keepdims=True))
    expected = signal * n * np.exp(-ell)
    with np.errstate(divide='ignore', over='ignore', invalid='ignore', under='ignore'):
        signal_likelihood = np.exp(-.5 * (amplitude / expected) ** 2)
        noise_likelihood = np.exp(-.5 * (amplitude / sigma) ** 2)
        total = signal_likelihood + noise_likelihood
        p = np.where(total > 0, signal_likelihood / total, 0.)
    action = np.where((p <= .5) | (p >= confidence), 2 * (p - .5), 0.)
    return np.real(np.fft.ifft2(spectrum * np.exp(ell * action)))


def values(grid, dims='b,x,y') -> np.ndarray:
    return grid.values.numpy(dims)


def test_forward_decays_a_sine_like_the_analytic_heat_kernel(backend):
    """On a 10x20 domain with 20x16 cells, a mode with (2, 1) cycles decays by exp(−νt(2π)²((2/10)² + (1/20)²))."""
    grid = CenteredGrid(0, PERIODIC, Box(x=10, y=20), x=20, y=16)
    x = grid.with_values(math.sin(2 * np.pi * 2 * grid.center['x'] / 10) * math.cos(2 * np.pi * grid.center['y'] / 20))
    y = heat.forward(x, diffusivity=.3, time=2.)
    decay = np.exp(-.6 * (2 * np.pi) ** 2 * ((2 / 10) ** 2 + (1 / 20) ** 2))
    assert y.values.default_backend == backend
    np.testing.assert_allclose(values(y, 'x,y'), decay * values(x, 'x,y'), atol=1e-6)
    assert 0.05 < decay < 0.5  # the decay is neither negligible nor complete


def test_forward_on_unit_cells_matches_phiflow_diffuse_fourier(backend):
    x = CenteredGrid(Noise(batch(b=2), scale=6), PERIODIC, x=16, y=12)
    np.testing.assert_allclose(values(heat.forward(x, 1.5, 2.)), values(diffuse.fourier(x, 1.5, 2.)), atol=1e-5)


def test_forward_honours_cell_size_unlike_diffuse_fourier():
    """Doubling the cell size at fixed νt is the same as diffusing unit cells by νt/4."""
    x = CenteredGrid(Noise(batch(b=2), scale=6), PERIODIC, x=16, y=16)
    coarse = CenteredGrid(x.values, PERIODIC, Box(x=32, y=32), x=16, y=16)
    np.testing.assert_allclose(values(heat.forward(coarse, 4.)), values(heat.forward(x, 1.)), atol=1e-5)
    assert np.max(np.abs(values(heat.forward(coarse, 4.)) - values(diffuse.fourier(coarse, 4., 1.)))) > .01


def test_gradient_through_forward_is_forward_of_residual(ml_backend):
    """`∂/∂x ½‖P(x) − y*‖² = Pᵀ(P(x) − y*) = P(P(x) − y*)`: diffusion is symmetric."""
    grid = CenteredGrid(0, PERIODIC, Box(x=24, y=24), x=12, y=12)
    math.seed(0)
    x, x_other = [CenteredGrid(Noise(batch(b=2), scale=5), PERIODIC, grid.bounds, x=12, y=12) for _ in range(2)]
    y_target = heat.forward(x_other, 2.)

    def loss(x):
        return math.l2_loss(heat.forward(x, 2.) - y_target)
    gradient = math.gradient(loss, 'x', get_output=False)(x)
    np.testing.assert_allclose(values(gradient), values(heat.forward(heat.forward(x, 2.) - y_target, 2.)), atol=1e-5)


def test_undamped_inverse_undoes_forward_where_amplification_is_moderate(backend):
    """16x16 unit cells, νt = 1/4: the largest amplification is e^4.9, so float32 rounding stays small."""
    x = sinusoids(paper_grid(res=16, size=16.), [(.5, 1, 0), (.3, 2, 1), (.1, 7, 6)])
    np.testing.assert_allclose(values(heat.inverse(heat.forward(x, .25), .25)), values(x), atol=1e-4)


def test_damped_update_recovers_a_band_limited_signal_in_one_step(backend):
    """On the paper's grid (νt = 8, e^158 at the highest frequency) one update from x = 0 lands on x*."""
    x_true = sinusoids(paper_grid(), [(.5, 1, 0), (.4, 2, 3), (.2, 5, 4)])  # ℓ up to 8 (2π)² 41/64² ≈ 3.2
    update = heat.damped_inverse_update(PAPER_AMOUNT)
    x = x_true * 0
    dx = update(x, y_target=heat.forward(x_true, PAPER_AMOUNT))
    np.testing.assert_allclose(values(x + dx), values(x_true), atol=2e-4)


def test_damped_inverse_in_float64_matches_the_authors_formula_on_every_backend(backend):
    """The log-domain evaluation against the paper's formula written out directly (float64, `exp(ℓ)` up to e^158)."""
    with math.precision(64):
        residual = rectangles_minus_estimate()
        reference = reference_damped_inverse(values(residual), PAPER_AMOUNT, dx=1.)
        result = heat.damped_inverse(math.convert(residual), PAPER_AMOUNT)
        assert result.values.default_backend == backend and result.values.dtype.precision == 64
        assert np.max(np.abs(values(result) - reference)) < 1e-9 * np.max(np.abs(reference))
        assert np.max(np.abs(reference)) > 10 * np.max(np.abs(values(residual)))  # the inverse did amplify


@pytest.mark.parametrize('noise,tolerance', [(1e-6, 3e-2), (1e-4, 3e-4)])
def test_float32_agrees_with_float64_on_every_backend(backend, noise, tolerance):
    """Float32 is finite and agrees with float64 up to the conditioning of the problem, not the evaluation.

    The update amplifies by up to δ√C/σ ≈ 1/ε, and it decides signal vs noise from amplitudes as small as a few σ,
    which float32 FFTs (relative rounding ~1e-7) resolve only to ~1e-7/ε: 1 % at the paper's ε = 1e-6, 0.01 % at
    ε = 1e-4. The same formula evaluated directly in float32 overflows (`exp(ℓ)` up to e^158) to inf/NaN.
    """
    residual = rectangles_minus_estimate(seed=1)
    single_values = values(residual)  # float32
    reference = reference_damped_inverse(single_values.astype(np.float64), PAPER_AMOUNT, dx=1., noise=noise)
    result = heat.damped_inverse(math.convert(residual.with_values(math.to_float(residual.values))), PAPER_AMOUNT, noise=noise)
    assert result.values.dtype.precision == 32 and np.all(np.isfinite(values(result)))
    assert np.max(np.abs(values(result) - reference)) < tolerance * np.max(np.abs(reference))
    with np.errstate(all='ignore'):
        spectrum = np.fft.fft2(single_values).astype(np.complex64)
        naive = spectrum * np.exp(np.float32(PAPER_AMOUNT * (2 * np.pi) ** 2 * .5))  # the highest frequency's factor
    assert not np.all(np.isfinite(naive))


def test_white_noise_is_never_amplified_beyond_a_plausible_signal(backend):
    """Wherever the update amplifies, the amplitude stays below `outlier_sigmas · δ√C`; the naive inverse explodes."""
    math.seed(0)
    grid = paper_grid(examples=3)
    noise = grid.with_values(1e-3 * math.random_normal(grid.values.shape))
    dx = heat.damped_inverse(noise, PAPER_AMOUNT)
    amplitude_in = np.abs(np.fft.fft2(values(noise)))
    amplitude_out = np.abs(np.fft.fft2(values(dx)))
    plausible = heat.OUTLIER_SIGMAS * heat.SIGNAL * 64
    assert np.all(amplitude_out <= np.maximum(amplitude_in, plausible) * (1 + 1e-3))
    assert np.all(np.isfinite(values(dx))) and np.max(amplitude_out) > 10 * np.max(amplitude_in)
    naive = heat.inverse(noise.with_values(math.to_float(noise.values)), PAPER_AMOUNT)
    assert not np.all(np.abs(values(naive)) < 1e6)


@pytest.mark.parametrize('signal_z,noise_z,expected', [
    (50., 60., -1.),  # both likelihoods vanish (beyond ~38.6 sigma): implausible, damped
    (50., 1., -1.),  # signal likelihood vanishes
    (10., 50., 1.),  # only the noise likelihood vanishes: surely signal
    (1., 1.1, 0.),  # p slightly above 1/2 but below the confidence threshold: no action
    (.5, .1, float(np.tanh((.01 - .25) / 4))),  # more likely noise: damp by 2p − 1
    (.5, 2., float(np.tanh((4 - .25) / 4))),  # confident signal: amplify by 2p − 1
])
def test_damping_action(signal_z, noise_z, expected):
    action = heat.damping_action(math.wrap(2 * np.log(signal_z)), math.wrap(noise_z ** 2))
    assert float(action) == pytest.approx(expected, abs=1e-6)


def test_update_is_zero_at_the_solution_and_for_a_zero_residual(backend):
    x = sinusoids(paper_grid(), [(.5, 1, 2)])
    update = heat.damped_inverse_update(PAPER_AMOUNT)
    assert np.max(np.abs(values(update(x, y_target=heat.forward(x, PAPER_AMOUNT))))) < 1e-5
    zero = heat.damped_inverse(x * 0, PAPER_AMOUNT)
    assert np.all(values(zero) == 0)


def test_update_uses_the_given_observation():
    x_true, x = sinusoids(paper_grid(), [(.5, 1, 2)], seed=1), sinusoids(paper_grid(), [(.5, 1, 2)], seed=2)
    update = heat.damped_inverse_update(PAPER_AMOUNT)
    y_target = heat.forward(x_true, PAPER_AMOUNT)
    np.testing.assert_allclose(values(update(x, y_target=y_target)), values(update(x, y_target=y_target, y=heat.forward(x, PAPER_AMOUNT))), atol=1e-6)


def test_rounding_floor_keeps_float32_updates_accurate_near_the_solution():
    """Near x*, the float32 rounding noise of y* and P(x) would be amplified as if it were signal without the floor."""
    from phi_inverse.experiments.scenes.heat import HeatScene
    scene = HeatScene(res=32)
    with math.NUMPY:
        examples = scene.sample(8, seed=3)
        x = heat.forward(examples.x, .05)

        def error(rounding):
            dx = heat.damped_inverse_update(PAPER_AMOUNT, rounding=rounding)(x, y_target=examples.y)
            return float(math.mean(abs(x.values + dx.values - examples.x.values), x.values.shape))
        before = float(math.mean(abs(x.values - examples.x.values), x.values.shape))
    assert error(heat.ROUNDING) < 1.1 * before and error(0.) > 100 * before


def test_non_periodic_grid_is_rejected():
    x = CenteredGrid(0, extrapolation.ZERO, x=8, y=8)
    with pytest.raises(ValueError, match='PERIODIC'):
        heat.forward(x, 1.)
    with pytest.raises(ValueError, match='periodic'):
        heat.damped_inverse_update(1.)(x, y_target=x)


def test_non_positive_noise_is_rejected():
    with pytest.raises(ValueError, match='noise'):
        heat.damped_inverse(paper_grid(res=8), 1., noise=0.)
