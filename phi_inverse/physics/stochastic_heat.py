"""Stochastic heat equation `dx = α∆x dt + g dW` on a periodic box (SMDP paper, section 4.2).

The deterministic part is solved exactly in Fourier space, `x̂_k ← exp(−α|k|²Δt)·x̂_k` (`diffuse.fourier`, with
angular wavenumbers `k` from the grid spacing: on the paper's 2π box the integers −n/2 … n/2−1); one
Euler–Maruyama step then adds `g·√Δt·z` (`sde.euler_maruyama`). High frequencies decay fastest, so the noise they
carry at `T` hides most of `x_0`'s small scales: reversing the step
(`phi_inverse.smdp.negated_increment(deterministic_step)`) amplifies them by `exp(+α|k|²Δt)`.

Initial states are Gaussian random fields with power spectrum `∝ |k|^−4`.

References:
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023,
    section 4.2 and appendix D.
"""
import numpy as np
from phi import math
from phi.field import CenteredGrid
from phi.geom import Box
from phi.math import Tensor, extrapolation

from . import diffuse, sde

DOMAIN = Box(x=2 * np.pi, y=2 * np.pi)
DIFFUSIVITY = 1.
"""`α` of the paper's experiment."""


def deterministic_step(x: CenteredGrid, dt, diffusivity: float = DIFFUSIVITY) -> CenteredGrid:
    """The SDE without its noise over `Δt`, exact: `diffuse.fourier(x, α, Δt)`; `dt` may vary along batch dimensions.

    This is the `D(x, Δt)` of `sde.euler_maruyama` and the forward step of `smdp.negated_increment`.
    """
    return diffuse.fourier(x, diffusivity, dt)


def simulate(x0: CenteredGrid, times: Tensor, diffusion: float = .1, diffusivity: float = DIFFUSIVITY) -> CenteredGrid:
    """The trajectory `x_0 … x_M` at `times` (along `time`, possibly different per example), stacked along `time`.

    Each step is `x ← F⁻¹(exp(−α|k|²Δt)·F(x)) + g·√Δt·z`, `z ~ N(0, I)` from the backend's generator; the rates
    `α|k|²` are computed once and the steps act on the grid's values.
    """
    rates = diffuse.decay_exponents(x0, diffusivity, 1.)
    values = sde.euler_maruyama(lambda u, dt: diffuse.decay(u, rates * dt), x0.values, diffusion, sde.increments(times))
    return x0.with_values(values)


def gaussian_random_field(shape: math.Shape, resolution: int, exponent: float = 4.) -> CenteredGrid:
    """Periodic Gaussian random fields on `DOMAIN` with power spectrum `∝ |k|^−exponent`, zero mean, unit variance.

    Each Fourier coefficient is `(a + ib)·|k|^(−exponent/2)` with `a, b ~ N(0, 1)` (zero at `k = 0`); the real part
    of the inverse FFT is scaled by the analytic standard deviation `√(Σ_k |k|^−exponent)/n²`.

    Args:
        shape: Batch dimensions of the fields.
        resolution: Cells per side.
        exponent: Power-law exponent of the spectrum.
    """
    grid = CenteredGrid(0, extrapolation.PERIODIC, DOMAIN, x=resolution, y=resolution)
    magnitude = math.vec_length(2 * np.pi * math.fftfreq(grid.resolution, grid.dx))
    amplitude = math.where(magnitude > 0, math.maximum(magnitude, 1) ** (-exponent / 2), 0)
    coefficients = math.random_normal(shape, grid.resolution) + 1j * math.random_normal(shape, grid.resolution)
    values = math.real(math.ifft(coefficients * amplitude))
    std = math.sqrt(math.sum(amplitude ** 2, grid.resolution)) / resolution ** 2
    return grid.with_values(values / std)


def prior_variance(grid: CenteredGrid, exponent: float = 4.) -> Tensor:
    """`Var[x̂_k]` of `gaussian_random_field`'s orthonormal Fourier coefficients, in `math.fft`'s layout.

    The fields have unit variance per cell, so the coefficients' variances `∝ |k|^−exponent` sum to the number of cells.
    """
    magnitude = math.vec_length(2 * np.pi * math.fftfreq(grid.resolution, grid.dx))
    power = math.where(magnitude > 0, math.maximum(magnitude, 1) ** -exponent, 0)
    return power / math.sum(power, grid.resolution) * grid.resolution.volume


def noise_variance(grid: CenteredGrid, times: Tensor, diffusion: float, diffusivity: float = DIFFUSIVITY) -> Tensor:
    """`Var` of the noise that `simulate` has accumulated at `times[-1]` in each orthonormal Fourier coefficient:
    `Σ_m g²·Δt_m·exp(−2α|k|²(T − t_{m+1}))`, every Euler–Maruyama increment decayed by the steps after it."""
    k2 = math.vec_squared(2 * np.pi * math.fftfreq(grid.resolution, grid.dx))
    end = times[{'time': -1}]
    return sum(diffusion ** 2 * dt * math.exp(-2 * diffusivity * k2 * (end - times[{'time': m + 1}]))
               for m, dt in enumerate(sde.increments(times)))


def posterior(x_end: CenteredGrid, gain: Tensor, prior: Tensor, noise: Tensor):
    """The exact posterior of `x_0` given `x_T = F⁻¹(gain·F(x_0)) + n` for a Gaussian prior and Gaussian noise that are
    both diagonal in Fourier space (the Wiener filter):

        E[x̂_k | x_T] = w_k·x̂_T,k,   w_k = gain_k·P_k / (gain_k²·P_k + N_k),   Var[x̂_k | x_T] = P_k − w_k·gain_k·P_k.

    Args:
        x_end: Observations `x_T`.
        gain: `exp(−α|k|²T)`, the deterministic decay of each coefficient (`math.fft` layout).
        prior: `P_k`, e.g. `prior_variance()`.
        noise: `N_k`, e.g. `noise_variance()` for simulated observations.

    Returns:
        The posterior mean (a grid like `x_end`) and the posterior variance of each orthonormal coefficient.
    """
    weight = gain * prior / (gain ** 2 * prior + noise)
    mean = x_end.with_values(math.real(math.ifft(weight * math.fft(x_end.values))))
    return mean, prior - weight * gain * prior


def posterior_sample(mean: CenteredGrid, variance: Tensor) -> CenteredGrid:
    """A sample of the Gaussian posterior: the mean plus white noise filtered to the posterior variance."""
    white = math.random_normal(mean.values.shape)
    return mean.with_values(mean.values + math.real(math.ifft(math.sqrt(variance) * math.fft(white))))


def decay(grid: CenteredGrid, duration: float, diffusivity: float = DIFFUSIVITY) -> Tensor:
    """`exp(−α|k|²·duration)` in `math.fft`'s layout: what `deterministic_step` multiplies each coefficient by."""
    return math.exp(-diffusivity * duration * math.vec_squared(2 * np.pi * math.fftfreq(grid.resolution, grid.dx)))
