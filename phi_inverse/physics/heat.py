"""The heat equation `∂u/∂t = ν∇²u` on a periodic grid: exact forward diffusion and its inverse updates.

Diffusion for a time `t` multiplies every Fourier coefficient by a decay factor,

    ŷ_k = x̂_k · exp(−ℓ_k),    ℓ_k = ν t (2π|k|)²,

with `k` in cycles per unit length, so the grid spacing enters through `k`. Undoing it multiplies by `exp(+ℓ_k)`,
which reaches e^158 on the paper's 64x64 grid with `ν t = 8`: any noise in the high frequencies explodes. The
Bayesian-damped inverse decides per frequency whether the residual looks like a physical signal (invert fully)
or like noise (damp further), and stays finite in float32 because it is evaluated in the log domain.

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, section 4 (heat
    equation) and appendix B.3 ("Stable SIP gradients").
"""
from typing import Optional

import numpy as np
from phi import math
from phi.field import Field
from phi.math import Tensor

from . import diffuse
from .diffuse import Amount, decay_exponents
from ..support.checks import check_like

NOISE = 1e-6
"""Relative noise level ε of the residual, `n ~ N(0, ε|r|)` (the authors' value)."""
SIGNAL = 1.
"""Signal scale δ: a physical `x` has cell values of order δ (the authors' value)."""
CONFIDENCE = .68
"""Signal probability needed before amplifying (one sigma, the authors' value)."""
OUTLIER_SIGMAS = float(np.sqrt(-2 * np.log(np.finfo(np.float64).smallest_subnormal)))
"""An amplitude this many standard deviations from both models is explained by neither and damped (≈ 38.6).

It is where a Gaussian likelihood underflows to zero in float64, so the damped inverse computes in any precision
what the authors' float64 code computed, where both likelihoods vanished and the signal probability became 0."""
LOG_NEGLIGIBLE = -60.
"""Exponents are clipped below at this value: e^-60 ≈ 1e-26 changes no result, and subnormal floats are slow."""
ROUNDING = 3.
"""Noise floor of the SIP update in units of `eps · ‖y*‖₂`. The rounding noise of float32 data and a float32
simulation has an rms of ≈ 0.9 `eps · ‖y*‖₂` per Fourier coefficient; 1 still lets its tail be amplified, 3
restores the float64 accuracy of the update (measured on this scene's data)."""


def forward(x: Field, diffusivity: Amount, time: Amount = 1.) -> Field:
    """Exact diffusion of a periodic grid, `ŷ_k = x̂_k exp(−ℓ_k)`, `ℓ_k = ν t (2π|k|)²`: `diffuse.fourier(x, ν, t)`.

    Args:
        x: Periodic centred grid, the initial temperature.
        diffusivity: ν. Only the product `ν t` matters, so `forward(x, 8.)` diffuses by `ν t = 8`.
        time: t.

    Returns:
        The temperature `y` at time `t`, a grid like `x`. Differentiable.
    """
    check_amount(diffusivity, time)
    return diffuse.fourier(x, diffusivity, time)


def inverse(y: Field, diffusivity: Amount, time: Amount = 1.) -> Field:
    """The undamped analytic inverse, `x̂_k = ŷ_k exp(+ℓ_k)` (diffusion backwards in time): exact for noise-free,
    band-limited `y`.

    It amplifies noise by up to `exp(max ℓ_k)` and overflows (inf/NaN) once `ℓ_k` exceeds ≈ 88 in float32 or
    ≈ 709 in float64. Use `damped_inverse()` for anything but exact, low-frequency data.
    """
    check_amount(diffusivity, time)
    return diffuse.fourier(y, diffusivity, -time)


def damped_inverse(y: Field, diffusivity: Amount, time: Amount = 1., noise: float = NOISE, signal: float = SIGNAL,
                   confidence: float = CONFIDENCE, outlier_sigmas: float = OUTLIER_SIGMAS, noise_floor: Amount = 0.) -> Field:
    """Bayesian-damped inverse diffusion, `x̂_k = ŷ_k · exp(ℓ_k α_k)` with an action `α_k ∈ [−1, 1]` per frequency.

    For an observed amplitude `a_k = |ŷ_k|` (unnormalised FFT, `C` cells) two explanations compete, with priors ½:

    * noise, `n ~ N(0, ε|y|)` per cell: every coefficient has standard deviation `σ = ε‖y‖₂` (combined as
      `σ = √((ε‖y‖₂)² + σ₀²)` with an absolute floor σ₀, e.g. the rounding noise of the data);
    * a physical signal, `x` with cell values of order δ, diffused: standard deviation `A_k = δ √C exp(−ℓ_k)`.

    With `L_s = exp(−½(a_k/A_k)²)` and `L_n = exp(−½(a_k/σ)²)` the signal probability is `p = L_s/(L_s + L_n)`,
    and the action `α = 2p − 1 = tanh(½ log(L_s/L_n))`: full inversion (α = 1) where the amplitude is surely
    signal, further damping (α = −1) where it is surely noise. The action is taken only where `p ≤ ½` or
    `p ≥ confidence`, else α = 0. An amplitude more than `outlier_sigmas` standard deviations from both models
    is implausible under either and is damped (p = 0, as in the authors' float64 code where both likelihoods
    underflow). Hence wherever α > 0, `a_k ≤ outlier_sigmas · A_k`, so the result is bounded:
    `|x̂_k| ≤ max(a_k, outlier_sigmas · δ √C)`. The scores are computed from `log a_k + ℓ_k`, so `exp(ℓ_k)` is
    never formed, and float32 gives the float64 result.

    Args:
        y: Periodic centred grid to invert, typically the residual `y* − P(x)`.
        diffusivity, time: ν and t of the diffusion to undo.
        noise: ε, the noise level relative to `|y|`.
        signal: δ, the cell-value scale of a physical `x`.
        confidence: Signal probability required before amplifying.
        outlier_sigmas: Beyond this many standard deviations a likelihood counts as zero.
        noise_floor: σ₀, an absolute noise level per Fourier coefficient (0: the paper's purely relative model).

    Returns:
        The estimate of `x` with `forward(x) ≈ y`, a grid like `y`.

    References:
        Holl et al., NeurIPS 2022, appendix B.3: "we dampen the amplification of the inverse physics which yields
        a stable inverse".
    """
    if noise <= 0:
        raise ValueError(f"The noise level must be positive (the paper uses {NOISE}) but got noise={noise}.")
    check_amount(diffusivity, time)
    decay = decay_exponents(y, diffusivity, time)
    spectrum = math.fft(y.values, y.shape.spatial)
    power = math.real(spectrum) ** 2 + math.imag(spectrum) ** 2  # a², cheaper than abs()
    noise_power = noise ** 2 * math.sum(y.values ** 2, y.shape.spatial) + noise_floor ** 2  # σ², per example
    noise_power = math.where(noise_power > 0, noise_power, 1.)  # y = 0: every amplitude is 0 anyway
    signal_power = signal ** 2 * y.resolution.volume  # (δ√C)²
    action = damping_action(_log_positive(power) - float(np.log(signal_power)) + 2 * decay, power / noise_power,
                            confidence, outlier_sigmas)
    max_gain = math.maximum(math.log(signal_power / noise_power) / 2, 0.)  # α > 0 only where A_k > σ: exp(ℓα) < δ√C/σ
    gain = math.exp(math.clip(decay * action, LOG_NEGLIGIBLE, max_gain))  # the upper clip only guards rounding
    return y.with_values(math.real(math.ifft(spectrum * gain, y.shape.spatial)))


def damping_action(log_signal_z2: Tensor, noise_z2: Tensor, confidence: float = CONFIDENCE,
                   outlier_sigmas: float = OUTLIER_SIGMAS) -> Tensor:
    """The action `α = 2p − 1` of `damped_inverse()` from the squared z-scores `(a/A)²` (as its log) and `(a/σ)²`.

    The signal score `a/A = a e^ℓ / (δ√C)` overflows for large ℓ, so it comes as a log and is clipped at
    `outlier_sigmas`; the noise score is at most `√C/ε` and stays finite. From `log(L_s/L_n) = ½((a/σ)² − (a/A)²)`,
    `α = tanh(½ log(L_s/L_n))`, overridden by +1 where only the noise likelihood vanishes and by −1 where the signal
    likelihood vanishes (whether or not the noise likelihood does), then set to 0 where `½ < p < confidence`.
    """
    limit, log_limit = outlier_sigmas ** 2, float(2 * np.log(outlier_sigmas))
    signal_z2 = math.exp(math.clip(log_signal_z2, LOG_NEGLIGIBLE, log_limit))
    action = math.tanh((noise_z2 - signal_z2) / 4)
    action = math.where(noise_z2 > limit, 1., action)
    action = math.where(log_signal_z2 > log_limit, -1., action)
    return math.where(action < 2 * confidence - 1, math.minimum(action, 0.), action)


def _log_positive(values: Tensor) -> Tensor:
    """`log(values)` where positive, 0 elsewhere (those entries are masked by the caller)."""
    return math.log(math.where(values > 0, values, 1.))


def inverse_update(diffusivity: Amount, time: Amount = 1.):
    """SIP inverse update from the undamped inverse, `Δx = inverse(y* − P(x))`; exact but unstable (see `inverse()`).

    Returns:
        An inverse update `update(x, *, y_target, y=None) -> Δx`.
    """
    check_amount(diffusivity, time)
    return _residual_update(lambda r, y_target: inverse(r, diffusivity, time), diffusivity, time)


def damped_inverse_update(diffusivity: Amount, time: Amount = 1., noise: float = NOISE, signal: float = SIGNAL,
                          confidence: float = CONFIDENCE, outlier_sigmas: float = OUTLIER_SIGMAS, rounding: float = ROUNDING):
    """The SIP update of the heat equation: `Δx = damped_inverse(y* − P(x))`.

    Diffusion is linear, so inverting the residual `y* − P(x)` gives the step from `x` towards the `x*` that the
    damped inverse can recover. Besides the paper's relative noise `ε|y* − P(x)|`, the residual carries the
    rounding noise of `y*` and of the simulation, which does not shrink with the residual: it enters as the noise
    floor `σ₀ = rounding · eps · ‖y*‖₂`, `eps` the machine epsilon of the values' precision. In float64 it is
    negligible (the authors' setting); in float32 it keeps amplified rounding noise out of the update once the
    residual is small. Other arguments as in `damped_inverse()`.

    Args:
        rounding: σ₀ in units of `eps · ‖y*‖₂`; 0 gives the paper's purely relative noise model.

    Returns:
        An inverse update `update(x, *, y_target, y=None) -> Δx`.

    References:
        Holl et al., NeurIPS 2022, appendix B.3.
    """
    check_amount(diffusivity, time)

    def invert(residual: Field, y_target: Field) -> Field:
        floor = rounding * machine_epsilon(y_target.values) * math.sqrt(math.sum(y_target.values ** 2, y_target.shape.spatial))
        return damped_inverse(residual, diffusivity, time, noise, signal, confidence, outlier_sigmas, floor)
    return _residual_update(invert, diffusivity, time)


def machine_epsilon(values: Tensor) -> float:
    """The machine epsilon of the floating-point precision of `values` (e.g. 1.2e-7 for float32)."""
    return float(np.finfo(np.dtype(f'float{values.dtype.precision}')).eps)


def _residual_update(invert, diffusivity: Amount, time: Amount):
    def update(x: Field, *, y_target: Field, y: Optional[Field] = None) -> Field:
        y = forward(x, diffusivity, time) if y is None else y
        check_like(y, y_target, 'the simulated observation P(x)', 'y_target')
        return invert(y_target - y, y_target)
    return update


def check_amount(diffusivity: Amount, time: Amount):
    """Raises a `ValueError` if the diffusivity ν or the time t is negative (which would anti-diffuse).

    Tensors are checked where their values are known (not inside a JIT trace).
    """
    for name, value in (('diffusivity', diffusivity), ('time', time)):
        values = math.wrap(value)
        if values.available and (values < 0).any:
            raise ValueError(f"The heat equation needs {name} >= 0 but got {name}={value}: a negative ν·t runs diffusion "
                             f"backwards. To undo diffusion use heat.inverse() or heat.damped_inverse() with positive ν and t.")
