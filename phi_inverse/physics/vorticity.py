"""2-D incompressible Navier–Stokes in vorticity form on the periodic unit square, pseudo-spectral (Li et al. 2021).

    ∂ω/∂t + u·∇ω = νΔω + f,    u = (∂ψ/∂y, −∂ψ/∂x),    −Δψ = ω,

with the forcing `f = 0.1·(sin 2π(x+y) + cos 2π(x+y))` and initial states from the Gaussian measure
`N(0, 7^{3/2}(−Δ + 49 I)^{−2.5})` of the FNO paper. Derivatives are taken in Fourier space; the product `u·∇ω`
is formed on the grid and its spectrum truncated by the 2/3 rule. The viscous term is treated by Crank–Nicolson
as in Li et al.; advection and forcing by Heun's second-order predictor–corrector (Li et al. use forward Euler,
whose amplification of the imaginary advection eigenvalues grows faster with the time step). The internal time
step follows the CFL condition `Δt = C·Δx/max|u|` and is chosen anew for every recording interval.

Fields are `CenteredGrid`s with periodic boundaries and any batch dimensions; every operator returns the same
Field type. All wavenumber tables are NumPy constants, so the step runs on every backend and under JIT.

References:
    Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021, section 5.3;
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023, section 4.4.
"""
import math as pymath
from functools import lru_cache
from typing import Optional, Tuple

import numpy as np
from phi import math
from phi.field import CenteredGrid
from phi.geom import Box
from phi.math import Shape, Tensor, extrapolation

from . import TIME
from .spectral import cell_sizes, fourier_laplace_eigenvalues

DOMAIN = Box(x=1, y=1)
VISCOSITY = 1e-5
FORCING_AMPLITUDE = .1
CFL = .25


def grid(values: Tensor) -> CenteredGrid:
    """A periodic grid on the unit square holding `values` (spatial dims `x`, `y`)."""
    return CenteredGrid(values, extrapolation.PERIODIC, DOMAIN, **values.shape.spatial.untyped_dict)


def li_forcing(like: CenteredGrid, amplitude: float = FORCING_AMPLITUDE) -> CenteredGrid:
    """`f = a·(sin 2π(x+y) + cos 2π(x+y))` sampled at the cell centres of `like`."""
    phase = 2 * np.pi * math.sum(like.points, 'vector')
    return like.with_values(amplitude * (math.sin(phase) + math.cos(phase)))


def gaussian_random_field(batch_shape: Shape, resolution: int, alpha: float = 2.5, tau: float = 7.) -> CenteredGrid:
    """Samples `ω₀ ~ N(0, τ^{α−1}(−Δ + τ² I)^{−α})` with zero mean, as Li et al.'s `GaussianRF` (α = 2.5, τ = 7).

    Each Fourier coefficient `k ≠ 0` is `√2·τ^{α−1}·(4π²|k|² + τ²)^{−α/2}·(a + ib)·n²` with standard normal `a`, `b`;
    the field is the real part of the inverse FFT. Draws from the current backend's generator.
    """
    shape = batch_shape & math.spatial(x=resolution, y=resolution)
    k2 = _integer_wavenumbers_squared(resolution)
    amplitude = np.sqrt(2) * tau ** (alpha - 1) * (4 * np.pi ** 2 * k2 + tau ** 2) ** (-alpha / 2) * resolution ** 2
    amplitude[0, 0] = 0
    noise = math.random_normal(shape) + 1j * math.random_normal(shape)
    values = math.real(math.ifft(noise * math.wrap(amplitude, shape.spatial), 'x,y'))
    return grid(values)


@lru_cache(maxsize=16)
def _integer_wavenumbers_squared(n: int) -> np.ndarray:
    k = np.fft.fftfreq(n, 1 / n)
    return k[:, None] ** 2 + k[None, :] ** 2


@lru_cache(maxsize=16)
def _operators(key: Tuple[Tuple[int, float], ...]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(i·2πk_x, i·2πk_y, 2/3-rule mask)` of a periodic grid (NumPy)."""
    (nx, dx), (ny, dy) = key
    kx, ky = np.meshgrid(2 * np.pi * np.fft.fftfreq(nx, dx), 2 * np.pi * np.fft.fftfreq(ny, dy), indexing='ij')
    cycles_x, cycles_y = np.meshgrid(np.abs(np.fft.fftfreq(nx, 1 / nx)), np.abs(np.fft.fftfreq(ny, 1 / ny)), indexing='ij')
    mask = (cycles_x <= nx / 3) & (cycles_y <= ny / 3)
    return 1j * kx, 1j * ky, mask.astype(np.float64)


def _spectral_tables(omega: CenteredGrid):
    dx = cell_sizes(omega)
    resolution = omega.resolution
    key = tuple((resolution.get_size(d), dx[d]) for d in ('x', 'y'))
    ikx, iky, mask = (math.wrap(a, resolution) for a in _operators(key))
    laplace = fourier_laplace_eigenvalues(resolution, dx)
    return ikx, iky, mask, laplace


def velocity(omega: CenteredGrid) -> CenteredGrid:
    """`u = (∂ψ/∂y, −∂ψ/∂x)` with `−Δψ = ω` (the mean of `ψ` set to zero), a centred grid with channel `vector`."""
    ikx, iky, _, laplace = _spectral_tables(omega)
    psi_hat = _stream_function_spectrum(math.fft(omega.values, 'x,y'), laplace)
    u = math.real(math.ifft(iky * psi_hat, 'x,y'))
    v = -math.real(math.ifft(ikx * psi_hat, 'x,y'))
    return omega.with_values(math.stack([u, v], math.channel(vector='x,y')))


def _stream_function_spectrum(omega_hat: Tensor, laplace: Tensor) -> Tensor:
    safe = math.where(laplace == 0, 1., -laplace)
    return math.where(laplace == 0, 0., omega_hat / safe)


def _advection_spectrum(omega_hat: Tensor, ikx: Tensor, iky: Tensor, mask: Tensor, laplace: Tensor) -> Tensor:
    """Dealiased spectrum of `u·∇ω`."""
    psi_hat = _stream_function_spectrum(omega_hat, laplace)
    u = math.real(math.ifft(iky * psi_hat, 'x,y'))
    v = -math.real(math.ifft(ikx * psi_hat, 'x,y'))
    omega_x = math.real(math.ifft(ikx * omega_hat, 'x,y'))
    omega_y = math.real(math.ifft(iky * omega_hat, 'x,y'))
    return mask * math.fft(u * omega_x + v * omega_y, 'x,y')


def step(omega: CenteredGrid, dt: float, viscosity: float = VISCOSITY, forcing: Optional[CenteredGrid] = None) -> CenteredGrid:
    """One step `ω(t) → ω(t + Δt)`: Heun for `−u·∇ω + f`, Crank–Nicolson for `νΔω`.

    With `A(ω) = −u·∇ω + f` and `L` the spectral Laplacian,

        ω* = [(1 + ½ΔtνL)ω + Δt·A(ω)] / (1 − ½ΔtνL),
        ω' = [(1 + ½ΔtνL)ω + ½Δt·(A(ω) + A(ω*))] / (1 − ½ΔtνL).

    Args:
        omega: Vorticity on a periodic grid.
        dt: Time step; respect the CFL condition (`cfl_time_step`).
        viscosity: `ν`.
        forcing: `f` on the same grid; `None`: no forcing.
    """
    ikx, iky, mask, laplace = _spectral_tables(omega)
    omega_hat = math.fft(omega.values, 'x,y')
    forcing_hat = math.fft(forcing.values, 'x,y') if forcing is not None else 0
    explicit = (1 + .5 * dt * viscosity * laplace)
    implicit = 1 / (1 - .5 * dt * viscosity * laplace)
    rate = forcing_hat - _advection_spectrum(omega_hat, ikx, iky, mask, laplace)
    predicted = (explicit * omega_hat + dt * rate) * implicit
    corrected_rate = forcing_hat - _advection_spectrum(predicted, ikx, iky, mask, laplace)
    new_hat = (explicit * omega_hat + .5 * dt * (rate + corrected_rate)) * implicit
    return omega.with_values(math.real(math.ifft(new_hat, 'x,y')))


def cfl_time_step(omega: CenteredGrid, cfl: float = CFL) -> float:
    """`Δt = C·Δx/max|u|` over all cells and batch entries (a Python float; not for JIT-compiled code)."""
    speed = math.max(math.norm(velocity(omega).values), dim=lambda s: s.non_channel)
    dx = min(cell_sizes(omega).values())
    return cfl * dx / max(float(speed), 1e-8)


def simulate(omega0: CenteredGrid, end_time: float = 10., record_interval: float = 1., viscosity: float = VISCOSITY,
             forcing: Optional[CenteredGrid] = None, cfl: float = CFL, dt: Optional[float] = None) -> CenteredGrid:
    """Integrates from `t = 0` to `end_time`, recording every `record_interval`; states stacked along `time`.

    Each recording interval is split into `⌈interval/Δt_CFL⌉` equal steps, with `Δt_CFL = cfl_time_step(ω, cfl)` at
    its start (or `⌈interval/dt⌉` steps of a given `dt`).

    Returns:
        `ω(0), ω(Δt_rec), …, ω(end_time)` along `time`.
    """
    records = int(round(end_time / record_interval))
    states, omega = [omega0], omega0
    for _ in range(records):
        substeps = max(1, pymath.ceil(record_interval / (dt or cfl_time_step(omega, cfl)) - 1e-9))
        for _ in range(substeps):
            omega = step(omega, record_interval / substeps, viscosity, forcing)
        states.append(omega)
    return omega0.with_values(math.stack([s.values for s in states], math.batch(TIME)))


def enstrophy(omega: CenteredGrid) -> Tensor:
    """`½⟨ω²⟩`, the mean over cells, per batch entry."""
    return .5 * math.mean(omega.values ** 2, 'x,y')


def energy(omega: CenteredGrid) -> Tensor:
    """`½⟨|u|²⟩`, the mean over cells, per batch entry."""
    return .5 * math.mean(math.sum(velocity(omega).values ** 2, 'vector'), 'x,y')
