"""Posterior sampling by integrating backwards in time: reverse-time SDE, probability-flow ODE, Langevin corrector.

Predictors and correctors share the contracts `predictor(x, t, dt) -> x at t − dt` and
`corrector(x, t) -> x`; `sample()` runs them from the observation `x_T` back to `t_0`, for many posterior
samples per observation at once by broadcasting over a new batch dimension.

Correction factors. For `dx = P(x) dt + g(t) dW` with marginals `p_t`, Anderson's reverse-time SDE and Song
et al.'s probability-flow ODE are

    dx = [P(x) − g²·∇ₓ log p_t(x)] dt + g dW̄      (reverse-time SDE, integrated from T to 0),
    dx = [P(x) − ½·g²·∇ₓ log p_t(x)] dt             (probability flow, same marginals p_t).

One Euler(–Maruyama) step from `t` back to `t − Δt` with `P̃⁻¹ = −P` gives

    x ← x + Δt·[P̃⁻¹(x) + C·s_θ(x, t)] (+ g·√Δt·z),

so `C·s_θ` must equal `g²·∇ₓ log p_t` in the SDE and `½g²·∇ₓ log p_t` in the ODE. Which `C` does that depends
on what the training loss made `s_θ` learn (training itself always uses `C = 1`), hence every sampler takes
`trained_with=`, one of the `TrainingLoss` constants of `phi_inverse.smdp.losses`:

* `ONE_STEP` (and `ISM`): the 1-step loss makes `s_θ` converge to `g²·∇ₓ log p_t` (paper theorem 3.1,
  appendix A.1: the minimiser is the conditional mean of `x_m` given `x_{m+1}`, i.e. the reverse SDE's drift;
  `s̃_θ = s_θ/g²`). Hence `C_sde = 1`, `C_ode = ½`. ISM fits `s_θ/g²` to the score directly: the same factors.
* `MULTI_STEP`: `C_ode = 1`, `C_sde = 1`, the factors the paper prescribes for a multi-step correction and the ones
  the SMDP scenes use. The paper reads theorem 3.2 (the multi-step loss maximises a lower bound of the likelihood of
  the probability-flow ODE `dx = [P(x) + s_θ] dt`, appendix A.2, equation 39) as `s_θ` becoming the probability-
  flow drift `½g²·∇ₓ log p_t`; for that correction equation 9, `dx = [−P̃⁻¹(x) − C·s_θ] dt + g dW`, gives the
  probability flow with "C = 1 and excluding the noise" and the reverse-time SDE with `C = 2`. For the SDE the
  paper finds that `C = 2` "slightly overshoots" and uses `C = 1` (section 4.3). The reading is not exact: where
  the reverse conditional means are affine in the state (Gaussian dynamics, e.g. the affine SDE), rolling out the
  1-step optimum gives the conditional mean of every earlier state of a window, so `g²·∇ₓ log p_t` minimises
  every term of the multi-step loss. On such a correction `C_ode = 1` follows the reverse SDE's mean drift without
  its noise and concentrates the samples on the posterior's modes instead of transporting `p_T` to `p_0`.
  `trained_with=ONE_STEP` (or `correction_factor=`) samples a multi-step correction with the factors of
  `g²·∇ₓ log p_t`.

Sampled with the factors of the other optimum, the probability flow contracts the posterior (`C = 1` on
`g²·∇ₓ log p_t`) or widens it (`C = ½` on `½g²·∇ₓ log p_t`). `tests/smdp/test_theory.py` checks both
pairings, and where the multi-step loss has its minimum, on an SDE with a known score.

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

from ..physics import TIME
from .losses import TrainingLoss
from .reverse import Correction, ReversePhysics, map_values, reverse_step

SAMPLE = 'sample'
X = TypeVar('X', Tensor, Field)
Predictor = Callable[[X, Tensor, Tensor], X]
Corrector = Callable[[X, Tensor], X]
Diffusion = Union[float, Callable[[Tensor], Tensor]]


def reverse_sde(physics: ReversePhysics, correction: Correction, diffusion: Diffusion, trained_with: Optional[TrainingLoss] = None,
                *, correction_factor: Optional[float] = None) -> Predictor:
    """Euler–Maruyama step of the reverse-time SDE: `x ← P̃⁻¹_Δt(x) + Δt·C·s_θ(x, t) + g(t)·√Δt·z`.

    Every call draws fresh noise `z ~ N(0, I)` from the backend's generator, so successive samples differ.

    Args:
        physics: `P̃⁻¹` (`phi_inverse.smdp.reverse`).
        correction: `s_θ(x, t)`, trained with `C = 1`; `None` for the physics alone.
        diffusion: `g`, a number or a function of `t`.
        trained_with: The loss `s_θ` was trained with (`smdp.ONE_STEP`, `smdp.MULTI_STEP`, `smdp.ISM`); it sets
            `C = trained_with.sde_factor` (see the module docstring).
        correction_factor: `C` itself, overriding `trained_with`.
    """
    drift = reverse_step(physics, correction, _factor(trained_with, correction_factor, correction, 'sde_factor'))

    def predictor(x: X, t: Tensor, dt: Tensor) -> X:
        return drift(x, t, dt) + _evaluate(diffusion, t) * math.sqrt(dt) * _normal_like(x)
    return predictor


def probability_flow(physics: ReversePhysics, correction: Correction, trained_with: Optional[TrainingLoss] = None,
                     *, correction_factor: Optional[float] = None) -> Predictor:
    """Euler step of the probability-flow ODE: `x ← P̃⁻¹_Δt(x) + Δt·C·s_θ(x, t)`, deterministic.

    Args:
        physics: `P̃⁻¹` (`phi_inverse.smdp.reverse`).
        correction: `s_θ(x, t)`, trained with `C = 1`; `None` for the physics alone.
        trained_with: The loss `s_θ` was trained with; it sets `C = trained_with.ode_factor`: `½` for
            `smdp.ONE_STEP` and `smdp.ISM` (`s_θ ≈ g²·∇ₓ log p_t`), 1 for `smdp.MULTI_STEP` (the paper's factor,
            exact if `s_θ` is the probability-flow drift). See the module docstring.
        correction_factor: `C` itself, overriding `trained_with`.
    """
    return reverse_step(physics, correction, _factor(trained_with, correction_factor, correction, 'ode_factor'))


def score_of(correction: Correction, diffusion: Diffusion, trained_with: TrainingLoss) -> Callable[[X, Tensor], X]:
    """`∇ₓ log p_t(x) ≈ a·s_θ(x, t)/g(t)²`, the score that `probability_flow(…, trained_with)` assumes behind a
    correction: `a = 2·C_ode`, 1 for `smdp.ONE_STEP` and `smdp.ISM`, 2 for `smdp.MULTI_STEP`."""
    factor = _training_loss(trained_with).score_factor

    def score(x: X, t: Tensor) -> X:
        return factor * correction(x, t) / _evaluate(diffusion, t) ** 2
    return score


def langevin(score: Callable[[X, Tensor], X], step_size: float, steps: int = 1) -> Corrector:
    """Langevin corrector at fixed `t`: `steps` times `x ← x + ε·∇ₓ log p_t(x) + √(2ε)·z` (paper appendix F).

    For `ε → 0` and many steps the iterates are distributed as `p_t` (without a Metropolis correction only
    approximately).

    Args:
        score: `∇ₓ log p_t(x)`, e.g. `score_of(correction, diffusion, trained_with)`.
        step_size: `ε`.
        steps: Iterations per call.
    """
    def corrector(x: X, t: Tensor) -> X:
        for _ in range(steps):
            x = x + step_size * score(x, t) + (2 * step_size) ** .5 * _normal_like(x)
        return x
    return corrector


def sample(x_end: X, times: Tensor, predictor: Predictor, corrector: Optional[Corrector] = None,
           samples: Optional[int] = None, trajectory: bool = False, last: Optional[Predictor] = None) -> X:
    """Integrates from `x_T` at `times[-1]` back to `times[0]`.

    Args:
        x_end: The observations `x_T`, with any batch dimensions.
        times: Increasing time points `t_0 … t_M` along `time`.
        predictor: `reverse_sde(…)`, `probability_flow(…)` or any `(x, t, dt) -> x`.
        corrector: Optional `(x, t) -> x` applied after each predictor step except the last.
        last: Predictor of the last step to `t_0` instead of `predictor`, e.g. the SDE's drift without its noise
            (`probability_flow` with the SDE's factor), so that `x̂_0` carries no noise of its own.
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
        x = (last if last is not None and m == 1 else predictor)(x, t, t - t_prev)
        if corrector is not None and m > 1:
            x = corrector(x, t_prev)
        if trajectory:
            states.append(x)
    return math.stack(states[::-1], math.batch(TIME)) if trajectory else x


def _factor(trained_with: Optional[TrainingLoss], correction_factor: Optional[float], correction: Optional[Correction],
            attribute: str) -> float:
    if correction_factor is not None:
        return correction_factor
    if correction is None:
        return 1.  # no correction to scale
    if trained_with is None:
        raise TypeError("Which loss was the correction trained with? Its correction factor C depends on it: pass "
                        "trained_with=smdp.MULTI_STEP, smdp.ONE_STEP or smdp.ISM, or correction_factor=C.")
    return getattr(_training_loss(trained_with), attribute)


def _training_loss(trained_with) -> TrainingLoss:
    if not isinstance(trained_with, TrainingLoss):
        raise TypeError(f"trained_with must be a TrainingLoss (smdp.MULTI_STEP, smdp.ONE_STEP or smdp.ISM) but got "
                        f"{trained_with!r}. Pass a number as correction_factor={trained_with!r}.")
    return trained_with


def _evaluate(diffusion: Diffusion, t: Tensor):
    return diffusion(t) if callable(diffusion) else diffusion


def _normal_like(x: X) -> X:
    return map_values(lambda values: math.random_normal(values.shape), x)


def _expand(x: X, shape) -> X:
    return map_values(lambda values: math.expand(values, shape), x)
