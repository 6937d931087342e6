"""Score-matching losses of a correction `s_θ(x)`: implicit score matching and sliced score matching (VR).

Integrating by parts (Hyvärinen 2005), for data `x ~ p` and any scale `c > 0`,

    E_p[½‖s‖² + c·tr ∂s/∂x] = ½·E_p[‖s − c·∇ₓ log p‖²] + const,

so both losses below are minimised by `s = c·∇ₓ log p`. With `c = g²` a correction trained this way matches what
the SMDP 1-step loss learns, `s_θ ≈ g²·∇ₓ log p_t`, and the samplers use the same correction factors
(`C_ode = ½`, `C_sde = 1`, see `phi_inverse.smdp.samplers`).

Sliced score matching with variance reduction (Song et al. 2019) replaces the trace by a random projection
`vᵀ(∂s/∂x)v` with `E[vvᵀ] = I`, so that one derivative pass suffices for any state dimension, and keeps `½‖s‖²`
analytic. For a scalar state its estimator is `c·v²·∂s/∂x + ½s²`: implicit score matching with the divergence
term weighted by `v²`, `E[v²] = 1`. Gaussian `v` make that weight `χ²₁`-distributed (more variance, same
minimiser); Rademacher `v` (`v² = 1`) reduce it to implicit score matching exactly.

The derivative is exact (reverse-mode automatic differentiation through `s`) where the backend can differentiate
a gradient again (JAX, TensorFlow), or a central difference of step `h` along `v`.

References:
    Hyvärinen, "Estimation of non-normalized statistical models by score matching", JMLR 2005;
    Song, Garg, Shi, Ermon, "Sliced score matching: a scalable approach to density and score estimation", UAI 2019;
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023, section 4.1.
"""
from typing import Callable, Optional, Union

import numpy as np
from phi import math
from phi.math import Tensor
from phiml.backend import default_backend

Score = Callable[[Tensor], Tensor]
NESTING_BACKENDS = ('jax', 'tensorflow')
AUTODIFF = 'autodiff'
CENTRAL = 'central'
CENTRAL_STEP = 1e-3


def default_derivative() -> str:
    """`'autodiff'` on backends whose gradients can be differentiated again in training, else `'central'`.

    PyTorch in PhiML 1.16 computes `math.gradient` without a graph of the gradient (and not inside a trace), so
    a divergence obtained by automatic differentiation would not train there.
    """
    return AUTODIFF if default_backend().name in NESTING_BACKENDS else CENTRAL


def directional_derivative(score: Score, x: Tensor, v: Tensor, derivative: Optional[str] = None,
                           step: float = CENTRAL_STEP) -> Tensor:
    """`vᵀ(∂s/∂x)v` per example, summed over the non-batch dimensions of `x`.

    Examples along batch dimensions are independent (`s` of one example depends only on its own `x`), so the
    gradient of `Σ_batch vᵀs(x)` with respect to `x` is `(∂s/∂x)ᵀv` per example.

    Args:
        score: `s(x)`, shaped like `x`.
        x: States with batch dimensions.
        v: Directions, shaped like `x` (or broadcasting to it).
        derivative: `'autodiff'` (exact) or `'central'`: `vᵀ[s(x + hv) − s(x − hv)]/(2h)`. Default: `default_derivative()`.
        step: `h` of the central difference.
    """
    derivative = derivative or default_derivative()
    if derivative == AUTODIFF:
        def projected(x_):
            return math.sum(v * score(x_), x_.shape)
        vjp = math.gradient(projected, 'x_', get_output=False)(x)
        return math.sum(v * vjp, x.shape.non_batch)
    if derivative == CENTRAL:
        return math.sum(v * (score(x + step * v) - score(x - step * v)), x.shape.non_batch) / (2 * step)
    raise ValueError(f"derivative must be '{AUTODIFF}' or '{CENTRAL}' but got '{derivative}'.")


def divergence(score: Score, x: Tensor, derivative: Optional[str] = None, step: float = CENTRAL_STEP) -> Tensor:
    """`tr ∂s/∂x = Σ_k e_kᵀ(∂s/∂x)e_k` per example, one derivative pass per non-batch component of `x`."""
    components = x.shape.non_batch
    if components.volume == 1:
        return directional_derivative(score, x, math.ones(x.shape), derivative, step)
    total = 0
    for k in range(components.volume):
        e_k = math.tensor(np.eye(components.volume, dtype=np.float32)[k].reshape(components.sizes), components)
        total += directional_derivative(score, x, math.expand(e_k, x.shape), derivative, step)
    return total


def implicit_score_matching(score: Score, x: Tensor, scale: Union[float, Tensor] = 1., derivative: Optional[str] = None,
                            step: float = CENTRAL_STEP) -> Tensor:
    """`c·tr ∂s/∂x + ½‖s‖²` per example; its mean over `x ~ p` is minimised by `s = c·∇ₓ log p` (Hyvärinen 2005).

    Args:
        score: `s(x)`, shaped like `x`.
        x: Samples of `p` with batch dimensions.
        scale: `c`, e.g. `g²` for an SMDP correction; a Tensor may vary per example (e.g. with time).
        derivative: See `directional_derivative()`.
        step: `h` of a central difference.
    """
    s = score(x)
    return scale * divergence(score, x, derivative, step) + .5 * math.sum(s ** 2, x.shape.non_batch)


def sliced_score_matching(score: Score, x: Tensor, v: Tensor, scale: Union[float, Tensor] = 1., variance_reduction: bool = True,
                          derivative: Optional[str] = None, step: float = CENTRAL_STEP) -> Tensor:
    """`c·vᵀ(∂s/∂x)v + ½‖s‖²` per example (SSM-VR, Song et al. 2019), or `c·vᵀ(∂s/∂x)v + ½(vᵀs)²` without variance
    reduction; with `E[vvᵀ] = I` the mean of either is minimised by `s = c·∇ₓ log p`.

    Args:
        score: `s(x)`, shaped like `x`.
        x: Samples of `p` with batch dimensions.
        v: Random projections shaped like `x`, e.g. standard normal (draw them outside compiled code).
        scale: `c`, e.g. `g²` for an SMDP correction.
        variance_reduction: Use `½‖s‖² = E_v[½(vᵀs)²]` analytically.
        derivative: See `directional_derivative()`.
        step: `h` of a central difference.
    """
    s = score(x)
    norm = math.sum(s ** 2, x.shape.non_batch) if variance_reduction else math.sum(v * s, x.shape.non_batch) ** 2
    return scale * directional_derivative(score, x, v, derivative, step) + .5 * norm
