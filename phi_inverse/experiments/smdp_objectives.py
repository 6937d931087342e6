"""The SMDP objectives (SMDP paper, section 3): multi-step and 1-step losses, implicit and sliced score matching,
supervised.

Each objective calls hooks of the scene it trains on:

* `MultiStep`: `scene.correction_network()`, `scene.multi_step_loss(net, reverse_physics)` and
  `scene.windows(size, count, seed)`;
* `ScoreMatching`: `scene.correction_network()`, `scene.score_matching_loss(net, sliced)` and
  `scene.states(count, seed, time_sampling)`;
* `Supervised`: `scene.supervised_network(architecture)`, `scene.supervised_loss(net, architecture)` and
  `scene.pairs(count, seed, architecture)`.

The samplers' correction factors follow from the objective (`trained_with`), so that a scene never sets `C` by hand.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np
from phi import math
from phi.math import Tensor

from .. import smdp

PROJECTION_STREAM = 7


@dataclass(frozen=True)
class MultiStep:
    """The multi-step loss with a sliding window grown from `S = first` to `window` (`window = 2`: the 1-step loss).

    Attributes:
        window: `S_max`.
        final_fraction: Fraction of the run trained at `S_max`; the curriculum grows `S` before.
        reverse_physics: `False` trains the correction alone, without `P̃⁻¹` (the paper's "s_θ only").
        first: The curriculum's first window size (the heat experiment's authors start at 6).
        increment: Growth of `S` per curriculum stage.
        sweep: If positive, `sweep` consecutive training steps draw their windows from one simulated batch of
            trajectories, at successive positions (`scene.windows(…, position=j)`), so that every window of a
            trajectory is an optimizer step of its own, as in the authors' heat training; 0 draws a new batch and
            position every step.
    """
    window: int = 2
    final_fraction: float = .5
    reverse_physics: bool = True
    first: int = 2
    increment: int = 1
    sweep: int = 0

    @property
    def trained_with(self) -> smdp.TrainingLoss:
        """What this loss makes the correction learn; the samplers take their correction factors from it."""
        return smdp.MULTI_STEP if self.window > 2 else smdp.ONE_STEP

    def curriculum(self, steps: int) -> Callable[[int], int]:
        """The window size `S` of every training step of a run of `steps` steps."""
        if self.window <= 2:
            return lambda i: 2
        first = min(self.first, self.window)
        return smdp.WindowCurriculum.spread(self.window, steps, first, self.increment, self.final_fraction)

    def network(self, scene):
        return scene.correction_network()

    def loss(self, scene, net) -> Callable:
        return scene.multi_step_loss(net, self.reverse_physics)

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        window = self.curriculum(steps)
        if self.sweep:
            return lambda i, seed: scene.windows(window(i), size, seed, position=i % self.sweep)
        return lambda i, seed: scene.windows(window(i), size, seed)

    def data_index(self, step: int) -> int:
        """The index of the simulated batch that training step `step` draws from (its data seed)."""
        return step // self.sweep if self.sweep else step


@dataclass(frozen=True)
class ScoreMatching:
    """Score matching of single states drawn over all training times (SMDP paper, Table 1, "ISM" and "SSM-VR").

    The loss `E[g²·tr ∂s_θ/∂x + ½‖s_θ‖²]` (implicit) or `E_v[g²·vᵀ(∂s_θ/∂x)v + ½‖s_θ‖²]` (sliced, variance reduced)
    is minimised by `s_θ = g²·∇ₓ log p_t` (`phi_inverse.smdp.score_matching`), what the 1-step loss learns, so the
    samplers use `C_ode = ½` and `C_sde = 1`.

    Attributes:
        sliced: SSM-VR with random projections `v` instead of the exact trace.
        projection: Distribution of `v`: `'gaussian'` (Song et al. 2019) or `'rademacher'`.
        time_sampling: How training times are drawn (`scene.states`): `'uniform'` over time steps, `'log-uniform'`,
            which puts as many states near `t = 0`, where `g²·∇ₓ log p_t` is steep, as near `T`, or `'mixed'`
            (half each). Every positive time weighting has the same minimiser; what differs is how many updates
            each time receives within the budget.
        weighting: The time weighting `λ(t)` of the loss terms (`scene.score_matching_loss`), e.g. `'none'` or a
            power of the data's spread at `t`; like the time sampling it moves emphasis between times, not the
            minimiser.
    """
    sliced: bool = False
    projection: str = 'gaussian'
    time_sampling: str = 'mixed'
    weighting: str = 'none'

    trained_with = smdp.ISM

    def network(self, scene):
        return scene.correction_network()

    def loss(self, scene, net) -> Callable:
        return scene.score_matching_loss(net, self.sliced, self.weighting)

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        def data(i: int, seed: int) -> tuple:
            x, t = scene.states(size, seed, self.time_sampling)
            return (x, t, self.projections(x, seed)) if self.sliced else (x, t)
        return data

    def projections(self, x: Tensor, seed: int) -> Tensor:
        """Random `v` shaped like `x` with `E[vvᵀ] = I`, drawn from `seed` (outside compiled code)."""
        rng = np.random.default_rng([seed, PROJECTION_STREAM])
        if self.projection == 'gaussian':
            values = rng.standard_normal(x.shape.sizes)
        elif self.projection == 'rademacher':
            values = rng.choice([-1., 1.], x.shape.sizes)
        else:
            raise ValueError(f"projection must be 'gaussian' or 'rademacher' but got '{self.projection}'.")
        return math.tensor(values.astype(np.float32), x.shape)


@dataclass(frozen=True)
class Supervised:
    """Supervised regression `x_T → x_0` with an L2 loss.

    Attributes:
        architecture: The network, as the scene names it (`scene.supervised_network(architecture)`); the default
            `''` is the correction's architecture.
    """
    architecture: str = ''

    def network(self, scene):
        return scene.supervised_network(self.architecture)

    def loss(self, scene, net) -> Callable:
        return scene.supervised_loss(net, self.architecture)

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        return lambda i, seed: scene.pairs(size, seed, self.architecture)
