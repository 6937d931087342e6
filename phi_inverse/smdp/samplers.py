"""Posterior sampling by integrating backwards in time: reverse-time SDE, probability-flow ODE, Langevin corrector.

Predictors and correctors share the contracts `predictor(x, t, dt) -> x at t − dt` and
`corrector(x, t) -> x`; `sample()` runs them from the observation `x_T` back to `t_0`, for many posterior
samples per observation at once by broadcasting over a new batch dimension.

Correction factors. For `dx = P(x) dt + g(t) dW` with marginals `p_t`, Anderson's reverse-time SDE and Song
et al.'s probability-flow ODE are

    dx = [P(x) − g²·∇ₓ log p_t(x)] dt + g dW̄      (reverse-time SDE, integrated from T to 0),
    dx = [P(x) − ½·g²·∇ₓ log p_t(x)] dt             (probability flow, same marginals p_t).

One Euler(–Maruyama) step from `t` back to `t − Δt` with `P̃⁻¹ = −P` gives

    x ← x + Δt·[P̃⁻¹(x) + C·s_θ(x, t)] (+ g·√Δt·z),   s_θ ≈ g²·∇ₓ log p_t,

because the 1-step loss makes `s_θ` converge to `g²·∇ₓ log p_t` (paper theorem 3.1, appendix A.1:
`s̃_θ = s_θ/g²`). Hence `C_sde = 1` and `C_ode = ½` for a correction trained with `C = 1`. The paper's main
text (equation 9) writes `C = 2` and `C = 1` for the same two equations because it parameterises the correction
as `½·g²·∇ₓ log p_t`. `tests/smdp/test_theory.py` checks both defaults on an SDE with a known score.

References:
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023,
    sections 3.2-3.3, equations (7)-(9), appendix A.1 and F (Langevin);
    Song et al., "Score-Based Generative Modeling through Stochastic Differential Equations", ICLR 2021;
    Anderson, "Reverse-time diffusion equation models", 1982.
"""
from typing import Callable, Optional, TypeVar, Union

from phi import math
from phi.field import Field
from phi.math import Tensor

from ..metrics import values_of
from ..physics import TIME
from .reverse import Correction, ReversePhysics, reverse_step

SAMPLE = 'sample'
SDE_CORRECTION_FACTOR = 1.
ODE_CORRECTION_FACTOR = .5
X = TypeVar('X', Tensor, Field)
Predictor = Callable[[X, Tensor, Tensor], X]
Corrector = Callable[[X, Tensor], X]
Diffusion = Union[float, Callable[[Tensor], Tensor]]


def reverse_sde(physics: ReversePhysics, correction: Correction, diffusion: Diffusion,
                correction_factor: float = SDE_CORRECTION_FACTOR) -> Predictor:
    """Euler–Maruyama step of the reverse-time SDE: `x ← P̃⁻¹_Δt(x) + Δt·C·s_θ(x, t) + g(t)·√Δt·z`.

    Every call draws fresh noise `z ~ N(0, I)` from the backend's generator, so successive samples differ.

    Args:
        physics: `P̃⁻¹` (`phi_inverse.smdp.reverse`).
        correction: `s_θ(x, t)`, trained with `C = 1`.
        diffusion: `g`, a number or a function of `t`.
        correction_factor: `C`; 1 samples the posterior when `s_θ ≈ g²·∇ₓ log p_t` (see the module docstring).
    """
    drift = reverse_step(physics, correction, correction_factor)

    def predictor(x: X, t: Tensor, dt: Tensor) -> X:
        return drift(x, t, dt) + _evaluate(diffusion, t) * math.sqrt(dt) * _normal_like(x)
    return predictor


def probability_flow(physics: ReversePhysics, correction: Correction,
                     correction_factor: float = ODE_CORRECTION_FACTOR) -> Predictor:
    """Euler step of the probability-flow ODE: `x ← P̃⁻¹_Δt(x) + Δt·C·s_θ(x, t)`, deterministic.

    `C = ½` transports the marginals `p_T → p_0` when `s_θ ≈ g²·∇ₓ log p_t` (see the module docstring).
    """
    return reverse_step(physics, correction, correction_factor)


def score_of(correction: Correction, diffusion: Diffusion) -> Callable[[X, Tensor], X]:
    """`∇ₓ log p_t(x) ≈ s_θ(x, t)/g(t)²`, the score behind a correction trained with the 1-step loss."""
    def score(x: X, t: Tensor) -> X:
        return correction(x, t) / _evaluate(diffusion, t) ** 2
    return score


def langevin(score: Callable[[X, Tensor], X], step_size: float, steps: int = 1) -> Corrector:
    """Langevin corrector at fixed `t`: `steps` times `x ← x + ε·∇ₓ log p_t(x) + √(2ε)·z` (paper appendix F).

    For `ε → 0` and many steps the iterates are distributed as `p_t` (without a Metropolis correction only
    approximately).

    Args:
        score: `∇ₓ log p_t(x)`, e.g. `score_of(correction, diffusion)`.
        step_size: `ε`.
        steps: Iterations per call.
    """
    def corrector(x: X, t: Tensor) -> X:
        for _ in range(steps):
            x = x + step_size * score(x, t) + (2 * step_size) ** .5 * _normal_like(x)
        return x
    return corrector


def sample(x_end: X, times: Tensor, predictor: Predictor, corrector: Optional[Corrector] = None,
           samples: Optional[int] = None, trajectory: bool = False) -> X:
    """Integrates from `x_T` at `times[-1]` back to `times[0]`.

    Args:
        x_end: The observations `x_T`, with any batch dimensions.
        times: Increasing time points `t_0 … t_M` along `time`.
        predictor: `reverse_sde(…)`, `probability_flow(…)` or any `(x, t, dt) -> x`.
        corrector: Optional `(x, t) -> x` applied after each predictor step except the last.
        samples: If given, draws this many posterior samples per observation in one batched run, along the new
            batch dimension `sample`.
        trajectory: Return every state, stacked along `time` in increasing time, instead of only `x̂_0`.

    Returns:
        `x̂_0` (or the trajectory `x̂_0 … x̂_M`), shaped like `x_end` plus `sample` if requested.
    """
    x = _expand(x_end, math.batch(**{SAMPLE: samples})) if samples else x_end
    states = [x]
    steps = times.shape.get_size(TIME) - 1
    for m in range(steps, 0, -1):
        t, t_prev = times[{TIME: m}], times[{TIME: m - 1}]
        x = predictor(x, t, t - t_prev)
        if corrector is not None and m > 1:
            x = corrector(x, t_prev)
        if trajectory:
            states.append(x)
    return math.stack(states[::-1], math.batch(TIME)) if trajectory else x


def _evaluate(diffusion: Diffusion, t: Tensor):
    return diffusion(t) if callable(diffusion) else diffusion


def _normal_like(x: X) -> X:
    noise = math.random_normal(values_of(x).shape)
    return x.with_values(noise) if isinstance(x, Field) else noise


def _expand(x: X, shape) -> X:
    return x.with_values(math.expand(x.values, shape)) if isinstance(x, Field) else math.expand(x, shape)
