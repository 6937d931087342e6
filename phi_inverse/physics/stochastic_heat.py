"""Stochastic heat equation `dx = α∆x dt + g dW` on a periodic box (SMDP paper, section 4.2).

The deterministic part is solved exactly in Fourier space, `x̂_k ← exp(−α|k|²Δt)·x̂_k`, with angular wavenumbers
`k` computed from the grid spacing (on the paper's 2π box, the integers −n/2 … n/2−1); one Euler–Maruyama step
then adds `g·√Δt·z`. High frequencies decay fastest, so the noise they carry at `T` hides most of `x_0`'s small
scales: reversing the step (`phi_inverse.smdp.negated_increment(diffuse)`) amplifies them by `exp(+α|k|²Δt)`.

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

from ..support.checks import check_centered_grid

TIME = 'time'
DOMAIN = Box(x=2 * np.pi, y=2 * np.pi)


def diffuse(x: CenteredGrid, dt, diffusivity: float = 1.) -> CenteredGrid:
    """Exact heat step `F⁻¹(exp(−α|k|²Δt)·F(x))` of a periodic grid; `dt` may vary along batch dimensions.

    Args:
        x: Periodic centred grid.
        dt: Time step `Δt` (number or Tensor); negative values run the heat equation backwards.
        diffusivity: `α`.
    """
    check_centered_grid(x, 'x')
    if x.extrapolation != extrapolation.PERIODIC:
        raise ValueError(f"diffuse() solves the periodic heat equation but x has boundary {x.extrapolation}. "
                         f"Create x with extrapolation.PERIODIC.")
    wavenumber_squared = math.vec_squared(2 * np.pi * math.fftfreq(x.resolution, x.dx))
    values = math.real(math.ifft(math.fft(x.values) * math.exp(-diffusivity * wavenumber_squared * dt)))
    return x.with_values(values)


def step(x: CenteredGrid, dt, diffusion: float = .1, diffusivity: float = 1.) -> CenteredGrid:
    """One Euler–Maruyama step `x ← F⁻¹(exp(−α|k|²Δt)·F(x)) + g·√Δt·z`, `z ~ N(0, I)` from the backend's generator."""
    x = diffuse(x, dt, diffusivity)
    return x + diffusion * math.sqrt(dt) * math.random_normal(x.values.shape)


def simulate(x0: CenteredGrid, times: Tensor, diffusion: float = .1, diffusivity: float = 1.) -> CenteredGrid:
    """The trajectory `x_0 … x_M` at `times` (along `time`, possibly different per example), stacked along `time`."""
    states = [x0]
    for m in range(1, times.shape.get_size(TIME)):
        states.append(step(states[-1], times[{TIME: m}] - times[{TIME: m - 1}], diffusion, diffusivity))
    return math.stack(states, math.batch(TIME))


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
