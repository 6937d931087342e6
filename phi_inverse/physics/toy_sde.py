"""One-dimensional toy SDEs of the SMDP paper: `dx = f(x) dt + g dW`, simulated with Euler–Maruyama.

* `quadratic_drift`: `f(x) = −λ·sign(x)·x²` (paper section 4.1, λ = 7, g = 0.03). Trajectories from ±1 decay
  towards 0 and become indistinguishable, so `x_T` no longer tells where they started.
* `affine_drift`: `f(x) = −λ·x` (paper appendix C, λ = 0.5, g = 0.04), whose marginals are Gaussian mixtures
  with the analytic score `affine_score`, the reference against which a learned correction is checked.

States are Tensors of any shape; trajectories stack them along the batch dimension `time`. The reverse
simulator of SMDP integrates `reverse_drift(drift) = −f` backwards in time (`P̃⁻¹ = −P`).

References:
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023,
    section 4.1 and appendix C.
"""
from typing import Callable, Sequence

from phi import math
from phi.math import Tensor

from . import sde
from .sde import reverse_drift  # noqa: F401 (the reverse simulator's drift −f, part of this module's interface)


def quadratic_drift(strength: float = 7.) -> Callable[[Tensor], Tensor]:
    """The drift `f(x) = −λ·sign(x)·x²` of the paper's toy SDE, with `λ = strength`."""
    def drift(x: Tensor) -> Tensor:
        return -strength * math.sign(x) * x ** 2
    return drift


def affine_drift(rate: float = .5) -> Callable[[Tensor], Tensor]:
    """The drift `f(x) = −λ·x` of the affine SDE with a known score, with `λ = rate`."""
    def drift(x: Tensor) -> Tensor:
        return -rate * x
    return drift


def simulate(drift: Callable[[Tensor], Tensor], x0: Tensor, diffusion: float, dt: float, steps: int) -> Tensor:
    """Euler–Maruyama paths `x_{m+1} = x_m + Δt·f(x_m) + g·√Δt·z_m`, `z_m ~ N(0, 1)` (`sde.euler_maruyama`).

    Args:
        drift: `f(x)`.
        x0: Initial states; every entry is one path.
        diffusion: Constant `g`.
        dt: Time step `Δt`.
        steps: Number of steps `M`.

    Returns:
        The paths `x_0 … x_M`, stacked along the batch dimension `time` (size `M + 1`), on `x0`'s backend.
    """
    return sde.euler_maruyama(sde.euler_step(drift), x0, diffusion, [dt] * steps)


def affine_marginal(x0: float, t: Tensor, rate: float, diffusion: float):
    """Mean `x0·e^{−λt}` and variance `g²/(2λ)·(1 − e^{−2λt})` of `x_t` given `x_0 = x0` for `dx = −λx dt + g dW`."""
    mean = x0 * math.exp(-rate * t)
    variance = diffusion ** 2 / (2 * rate) * (1 - math.exp(-2 * rate * t))
    return mean, variance


def affine_score(x: Tensor, t: Tensor, rate: float = .5, diffusion: float = .04, modes: Sequence[float] = (-1., 1.)) -> Tensor:
    """`∇ₓ log p_t(x)` for `dx = −λx dt + g dW` started from the equal mixture of `modes`.

    `p_t = (1/K)·Σ_k N(x; μ_k(t), σ²(t))`, so `∇ₓ log p_t = Σ_k w_k·(μ_k − x)/σ²` with the posterior
    weights `w_k ∝ exp(−(x − μ_k)²/(2σ²))`, evaluated stably as a softmax over the modes.
    """
    means_variances = [affine_marginal(m, t, rate, diffusion) for m in modes]
    variance = means_variances[0][1]
    log_weights = math.stack([-(x - mean) ** 2 / (2 * variance) for mean, _ in means_variances], math.channel('mode'))
    weights = math.exp(log_weights - math.max(log_weights, 'mode'))
    weights /= math.sum(weights, 'mode')
    means = math.stack([mean for mean, _ in means_variances], math.channel('mode'))
    return math.sum(weights * (means - x), 'mode') / variance
