"""Exact diffusion `∂u/∂t = ν∇²u` of a periodic grid in Fourier space, with PhiFlow's argument order.

Diffusing for a time `Δt` multiplies every Fourier coefficient by a decay factor,

    û_k ← û_k · exp(−ℓ_k),    ℓ_k = ν Δt (2π|k|)²,

with `k` in cycles per unit length (`2π|k|` is the angular wavenumber), so the grid spacing enters through `k`.
PhiFlow's `phi.physics.diffuse.fourier` measures `k` in cycles per cell, i.e. assumes unit cells; this one is
exact on any periodic grid. A negative `Δt` runs diffusion backwards and amplifies by `exp(+ℓ_k)`.

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, section 4 (heat
    equation); Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023,
    section 4.2 (stochastic heat equation).
"""
from typing import Union

from phi import math
from phi.field import Field
from phi.math import Tensor

from . import spectral as sp
from ..support.checks import check_periodic_grid

Amount = Union[float, Tensor]


def decay_exponents(grid: Field, diffusivity: Amount, dt: Amount) -> Tensor:
    """`ℓ_k = ν Δt (2π|k|)²` for every frequency of the FFT of `grid`; `Δt` may vary along batch dimensions."""
    check_periodic_grid(grid, 'grid', alternative="For other boundaries use phi.physics.diffuse.implicit.")
    return -diffusivity * dt * sp.fourier_laplace_eigenvalues(grid.resolution, sp.cell_sizes(grid))


def fourier(grid: Field, diffusivity: Amount, dt: Amount) -> Field:
    """Diffuses a periodic grid exactly for a time `Δt`: `û_k ← û_k exp(−ν Δt (2π|k|)²)`. Differentiable.

    Args:
        grid: Periodic centred grid.
        diffusivity: ν. Only the product `ν Δt` matters.
        dt: Δt, a number or a Tensor (e.g. one time step per example); negative values run diffusion backwards.

    Returns:
        The diffused grid, like `grid`.
    """
    return grid.with_values(decay(grid.values, decay_exponents(grid, diffusivity, dt)))


def decay(values: Tensor, exponents: Tensor) -> Tensor:
    """`F⁻¹(exp(−ℓ_k)·F(u))` over the spatial dimensions of `values`, given the exponents `ℓ_k` of `decay_exponents`.

    For many steps of one grid: compute the exponents once per unit time and pass `exponents · Δt`.
    """
    spatial = values.shape.spatial
    return math.real(math.ifft(math.fft(values, spatial) * math.exp(-exponents), spatial))
