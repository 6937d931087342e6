"""Training losses of the correction `s_θ`: 1-step, multi-step sliding window, window curriculum, time jitter,
training noise; and what each loss makes `s_θ` learn (`TrainingLoss`: `ONE_STEP`, `MULTI_STEP`, `ISM`), which
the samplers need to choose their correction factors.

Trajectories are states stacked along the batch dimension `time` in increasing time, with their time points
`t` along the same dimension (optionally with batch dimensions of their own, e.g. one jittered grid per example).
The losses only see a `ReverseStep` (`phi_inverse.smdp.reverse`), never the network or the physics behind it.

References:
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023,
    section 3.1, equations (3)-(5); section 3.3 and appendix D (curriculum, jitter); appendix A.3 (noise).
"""
from dataclasses import dataclass
from typing import TypeVar

from phi import math
from phi.field import Field
from phi.math import Tensor

from ..physics import TIME
from .reverse import ReverseStep, map_values, value_leaves

X = TypeVar('X', Tensor, Field)


@dataclass(frozen=True)
class TrainingLoss:
    """What a training loss makes the correction `s_θ` learn, and the correction factors `C` that sample it.

    Pass it to the samplers as `trained_with=` (`phi_inverse.smdp.samplers`, whose module docstring derives the
    factors); an explicit `correction_factor=` there overrides it.

    Attributes:
        name: The loss, e.g. `'multi-step'`.
        optimum: What `s_θ` is taken to converge to, in terms of the score `∇ₓ log p_t` and the diffusion `g`.
        ode_factor: `C` of the probability-flow ODE, `x ← P̃⁻¹_Δt(x) + Δt·C·s_θ`.
        sde_factor: `C` of the reverse-time SDE, `x ← P̃⁻¹_Δt(x) + Δt·C·s_θ + g·√Δt·z`.
    """
    name: str
    optimum: str
    ode_factor: float
    sde_factor: float

    @property
    def score_factor(self) -> float:
        """`a` in `∇ₓ log p_t ≈ a·s_θ/g²` as the ODE factor assumes it: `C_ode·s_θ = ½g²·∇ₓ log p_t`, so `a = 2·C_ode`."""
        return 2 * self.ode_factor


ONE_STEP = TrainingLoss('1-step', 'g²·∇ₓ log p_t (theorem 3.1)', ode_factor=.5, sde_factor=1.)
"""`one_step_loss`, and the multi-step loss with window `S = 2`: `s_θ → g²·∇ₓ log p_t`."""
MULTI_STEP = TrainingLoss('multi-step', '½g²·∇ₓ log p_t, the probability-flow drift, as the paper reads theorem 3.2',
                          ode_factor=1., sde_factor=1.)
"""`multi_step_loss` with windows `S > 2`: the paper's factors (equation 9 for the ODE, section 4.3 for the SDE).
For Gaussian dynamics the multi-step optimum is `g²·∇ₓ log p_t`, as for `ONE_STEP` (see `phi_inverse.smdp.samplers`)."""
ISM = TrainingLoss('ism', 'g²·∇ₓ log p_t when s_θ/g² is fitted to the score', ode_factor=.5, sde_factor=1.)
"""Implicit score matching (Hyvärinen 2005) of `ψ = s_θ/g²`: `ψ → ∇ₓ log p_t`, so `s_θ → g²·∇ₓ log p_t` as for 1-step."""


def squared_norm(value) -> Tensor:
    """`‖v‖²` per example: the sum over all non-batch dimensions of `v²` (over all components of a dataclass state)."""
    return sum(math.sum(leaf ** 2, dim=lambda s: s.non_batch) for leaf in value_leaves(value))


def one_step_loss(step: ReverseStep, x_prev: X, x: X, t: Tensor, dt: Tensor) -> Tensor:
    """`‖x_m − step(x_{m+1}, t_{m+1}, Δt)‖²` per example (equation 3 for one pair of adjacent states).

    With `P̃⁻¹ = −P` its minimiser is `s_θ = g²·∇ₓ log p_t` as `Δt → 0` (paper theorem 3.1, appendix A.1):
    sample it with `trained_with=ONE_STEP`.
    """
    return squared_norm(x_prev - step(x, t, dt))


def multi_step_loss(step: ReverseStep, window: X, times: Tensor) -> Tensor:
    """Sliding-window loss `Σ_j ‖x_j − x̂_j‖²` per example (equations 4 and 5).

    The prediction starts at the window's last state and runs `S − 1` steps back,
    `x̂_{S−1} = x_{S−1}`, `x̂_{j−1} = step(x̂_j, t_j, t_j − t_{j−1})`, feeding each prediction into the next
    step so that gradients flow through every step, physics included. `S = 2` is the 1-step loss. With `S > 2`
    it maximises a lower bound of the likelihood of the probability-flow ODE (paper theorem 3.2); the paper samples
    the result with the factors of `trained_with=MULTI_STEP`.

    Args:
        step: The reverse step with the correction being trained.
        window: `S ≥ 2` consecutive states along `time`.
        times: Their time points along `time`.

    Returns:
        The summed squared error of the `S − 1` predicted states, per example.
    """
    size = window.shape.get_size(TIME)
    if size < 2:
        raise ValueError(f"A window needs at least 2 states along '{TIME}' but got {size}. Use a window size S >= 2.")
    x = window[{TIME: -1}]
    loss = 0
    for j in range(size - 1, 0, -1):
        x = step(x, times[{TIME: j}], times[{TIME: j}] - times[{TIME: j - 1}])
        loss += squared_norm(x - window[{TIME: j - 1}])
    return loss


@dataclass(frozen=True)
class WindowCurriculum:
    """The window size `S` for each training step: grows from `start` to `stop` by `increment`, holding each size
    for `steps_per_size` training steps, then stays at `stop` (paper section 3.3: start with the 1-step loss,
    S = 2, and grow S to S_max).

    Attributes:
        stop: `S_max`.
        steps_per_size: Training steps spent at each size below `stop`.
        start: First window size, 2 for the 1-step loss.
        increment: Growth of `S` per stage.
    """
    stop: int
    steps_per_size: int
    start: int = 2
    increment: int = 1

    def __post_init__(self):
        if not 2 <= self.start <= self.stop or self.increment < 1 or self.steps_per_size < 1:
            raise ValueError(f"Need 2 <= start <= stop, increment >= 1 and steps_per_size >= 1 but got {self}.")

    @staticmethod
    def spread(stop: int, steps: int, start: int = 2, increment: int = 1, final_fraction: float = .5) -> 'WindowCurriculum':
        """The curriculum that reaches `stop` after `(1 − final_fraction)·steps` steps, in equal stages."""
        stages = max(1, -(-(stop - start) // increment))
        return WindowCurriculum(stop, max(1, round(steps * (1 - final_fraction) / stages)), start, increment)

    def __call__(self, step: int) -> int:
        return min(self.stop, self.start + self.increment * (step // self.steps_per_size))


def jitter_times(times: Tensor, dt: float) -> Tensor:
    """Moves every interior time point uniformly within `±dt/2` (paper appendix D), keeping both ends fixed.

    The reverse steps then see varying step sizes and times, which regularises `s_θ` in time. Random numbers come
    from the current backend's generator: call this outside JIT-compiled code, on NumPy for reproducible data.

    Args:
        times: Increasing time points along `time`, spaced by `dt`; extra batch dimensions get their own jitter.
        dt: Their spacing.
    """
    size = times.shape.get_size(TIME)
    shift = math.random_uniform(times.shape.after_gather({TIME: slice(1, size - 1)}), low=-dt / 2, high=dt / 2)
    zero = math.zeros(times.shape.after_gather({TIME: slice(0, 1)}))
    return times + math.concat([zero, shift, zero], TIME)


def add_training_noise(states: X, sigma: float, start_only: bool = False) -> X:
    """`x + σ·z` with `z ~ N(0, I)`: for deterministic data (`g = 0`), so that `s_θ` learns a score of the perturbed
    states, as in denoising score matching (paper appendix A.3 uses `σ = √Δt`). Call outside JIT-compiled code.

    Args:
        states: States, e.g. a training window along `time`.
        sigma: `σ`.
        start_only: Perturb only the window's last state along `time`, where `multi_step_loss` starts its rollout,
            and keep the targets clean (the authors' buoyancy training). Their noise would only add variance to
            the loss: its optimum is the same, the mean of the clean states given the perturbed start.
    """
    def perturbed(values: Tensor) -> Tensor:
        noise = sigma * math.random_normal(values.shape)
        if start_only:
            size = values.shape.get_size(TIME)
            noise = noise * math.wrap([0.] * (size - 1) + [1.], values.shape[TIME])
        return values + noise
    return map_values(perturbed, states)
