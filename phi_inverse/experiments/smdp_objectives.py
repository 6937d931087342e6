"""The SMDP objectives (SMDP paper, section 3): multi-step and 1-step losses, implicit score matching, supervised.

Each objective calls hooks of the scene it trains on:

* `MultiStep`: `scene.correction_network()`, `scene.multi_step_loss(net, reverse_physics)` and
  `scene.windows(size, count, seed)`;
* `ScoreMatching`: `scene.correction_network()`, `scene.score_matching_loss(net)` and `scene.states(count, seed)`;
* `Supervised`: `scene.supervised_network()`, `scene.supervised_loss(net)` and `scene.pairs(count, seed)`.

The samplers' correction factors follow from the objective (`trained_with`), so that a scene never sets `C` by hand.
"""
from dataclasses import dataclass
from typing import Callable

from .. import smdp


@dataclass(frozen=True)
class MultiStep:
    """The multi-step loss with a sliding window grown from `S = 2` to `window` (`window = 2`: the 1-step loss).

    Attributes:
        window: `S_max`.
        final_fraction: Fraction of the run trained at `S_max`; the curriculum grows `S` before.
        reverse_physics: `False` trains the correction alone, without `P̃⁻¹` (the paper's "s_θ only").
    """
    window: int = 2
    final_fraction: float = .5
    reverse_physics: bool = True

    @property
    def trained_with(self) -> smdp.TrainingLoss:
        """What this loss makes the correction learn; the samplers take their correction factors from it."""
        return smdp.MULTI_STEP if self.window > 2 else smdp.ONE_STEP

    def curriculum(self, steps: int) -> Callable[[int], int]:
        """The window size `S` of every training step of a run of `steps` steps."""
        if self.window <= 2:
            return lambda i: 2
        return smdp.WindowCurriculum.spread(self.window, steps, final_fraction=self.final_fraction)

    def network(self, scene):
        return scene.correction_network()

    def loss(self, scene, net) -> Callable:
        return scene.multi_step_loss(net, self.reverse_physics)

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        window = self.curriculum(steps)
        return lambda i, seed: scene.windows(window(i), size, seed)


@dataclass(frozen=True)
class ScoreMatching:
    """Implicit score matching of single states drawn over all training times (SMDP paper, Table 1, "ISM")."""
    trained_with = smdp.ISM

    def network(self, scene):
        return scene.correction_network()

    def loss(self, scene, net) -> Callable:
        return scene.score_matching_loss(net)

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        return lambda i, seed: scene.states(size, seed)


@dataclass(frozen=True)
class Supervised:
    """Supervised regression `x_T → x_0` with an L2 loss, the same network architecture as the correction."""

    def network(self, scene):
        return scene.supervised_network()

    def loss(self, scene, net) -> Callable:
        return scene.supervised_loss(net)

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        return lambda i, seed: scene.pairs(size, seed)
