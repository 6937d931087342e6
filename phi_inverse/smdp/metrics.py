"""Metrics of SMDP posterior samples and reconstructions, per example unless stated otherwise.

* `posterior_q`: how evenly reconstructions split between the modes of a multi-modal posterior (toy SDE).
* `reconstruction_mse`: agreement of `x̂_0` and `x_0` after simulating both forward to `T`.
* `reconstruction_mse_by_radius`: the same split over the radius bins of the error's spectrum.
* `radial_power_spectrum`, `spectral_error`: whether `x̂_0` has the power spectrum of the data, which a
  reconstruction-MSE-optimal (smooth) answer does not.

References:
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023,
    section 4.1 (Q), section 4.2 and appendix D (reconstruction MSE, spectral error).
"""
from typing import Callable, Sequence

import numpy as np
from phi import math
from phi.math import Tensor

from ..metrics import values_of

RADIUS = 'radius'


def mode_fractions(x0: Tensor, modes: Sequence[float] = (-1., 1.), tolerance: float = .1) -> Tensor:
    """`ρ_k`: the fraction of all entries of `x0` within relative distance `tolerance` of mode `k`, along `mode`."""
    return math.stack([math.mean(math.to_float(abs(x0 - m) < tolerance * abs(m)), x0.shape) for m in modes],
                      math.channel(mode=[str(m) for m in modes]))


def posterior_q(x0: Tensor, modes: Sequence[float] = (-1., 1.), tolerance: float = .1) -> Tensor:
    """`Q = K·min_k ρ_k` for `K` equally likely modes; for the toy SDE `Q = 2·min(ρ₋₁, ρ₁)`.

    `Q = 1` when every reconstruction hits a mode and the modes are hit equally often; trajectories that miss all
    modes or favour one lower it.

    Args:
        x0: Reconstructed initial states, all entries pooled (e.g. 1000 trajectories along a batch dimension).
        modes: The posterior's modes.
        tolerance: Relative distance `|x − m|/|m|` below which an entry counts as mode `m`.
    """
    return len(modes) * math.min(mode_fractions(x0, modes, tolerance), 'mode')


def reconstruction_mse(x_pred, x_true, forward: Callable) -> Tensor:
    """`mean((P_T(x̂_0) − P_T(x_0))²)` over cells: both simulated forward to `T` without noise, per example."""
    return math.mean(_forward_difference(x_pred, x_true, forward) ** 2, lambda s: s.non_batch)


def reconstruction_mse_by_radius(x_pred, x_true, forward: Callable) -> Tensor:
    """The reconstruction MSE split over the integer radius bins `r = ⌊|k|⌋` of the error's spectrum (Parseval):

        MSE_r = (1/N²)·Σ_{⌊|k|⌋ = r} |F(P_T(x̂_0) − P_T(x_0))_k|²,   Σ_r MSE_r = reconstruction_mse,

    with `N` cells. Shows at which scales a reconstruction loses accuracy.

    Returns:
        `MSE_r` along the spatial dimension `radius` (`r = 0, 1, …`), per example.
    """
    difference = _forward_difference(x_pred, x_true, forward)
    return _per_radius(abs(math.fft(difference)) ** 2, average=False) / difference.shape.spatial.volume ** 2


def radial_power_spectrum(x) -> Tensor:
    """`PS(r)`: `|F(x)|²` averaged over integer radius bins `r = ⌊|k|⌋` around zero frequency.

    Args:
        x: Grid or Tensor with two or more spatial dimensions; `k` are the integer FFT wavenumbers.

    Returns:
        `PS` along the spatial dimension `radius` (`r = 0, 1, …`), per example.
    """
    return _per_radius(abs(math.fft(values_of(x))) ** 2, average=True)


def spectral_error(x_pred, x_true, radii: Sequence[int] = tuple(range(1, 11))) -> Tensor:
    """`(1/|R|)·Σ_{r∈R} |log PS_x̂(r) − log PS_x(r)|` with `R = 1 … 10` by default, per example."""
    selection = {RADIUS: list(radii)}
    log_pred = math.log(radial_power_spectrum(x_pred)[selection])
    log_true = math.log(radial_power_spectrum(x_true)[selection])
    return math.mean(abs(log_pred - log_true), RADIUS)


def _forward_difference(x_pred, x_true, forward: Callable) -> Tensor:
    return values_of(forward(x_pred)) - values_of(forward(x_true))


def _per_radius(power: Tensor, average: bool) -> Tensor:
    """Sums (or averages) `power` over the radius bins of its spatial dimensions, along `radius`."""
    radius = _radius_bins(power.shape.spatial.sizes)
    masks = [radius == r for r in range(int(radius.max()) + 1)]
    return math.stack([math.sum(power * math.wrap(mask, power.shape.spatial), power.shape.spatial) / (mask.sum() if average else 1)
                       for mask in masks], math.spatial(RADIUS))


def _radius_bins(sizes: Sequence[int]) -> np.ndarray:
    wavenumbers = np.meshgrid(*[np.fft.fftfreq(n, 1 / n) for n in sizes], indexing='ij')
    return np.floor(np.sqrt(sum(k ** 2 for k in wavenumbers)) + 1e-9).astype(int)
