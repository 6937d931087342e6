"""Objectives for a learned reverse physics step: pretrain `P̃⁻¹`, then train `s_θ` on top of it frozen, or train
both at once (SMDP paper, section 4.4 and appendix F).

* `Surrogate`: stage 1, `P̃⁻¹` alone (`s_θ ≡ 0`) with the multi-step loss. Hooks: `scene.surrogate_network()`,
  `scene.surrogate_loss(net)`, `scene.windows(size, count, seed, noise=False)`.
* `OnFrozen`: stage 2, `s_θ` with the multi-step loss while `P̃⁻¹` is the network trained before under the method
  name `stage`, frozen. Hooks: `scene.correction_network()`, `scene.correction_loss(net, surrogate)`,
  `scene.windows(…, noise=True)`, and `scene.trained_network(stage)`.
* `Simultaneous`: both trained together by one optimizer (like DiffFlow). Hooks: `scene.joint_network()`,
  `scene.joint_loss(net)`, `scene.windows(…, noise=True)`.

Every stage is a method of its own for the runner, so each has its own checkpoint: a resumed run restores the
finished surrogate from its checkpoint and continues the stage that was interrupted. The runner trains methods in
the order given, so the stage a method builds on must come first; the runner registers each network with
`scene.register_network(name, net)` when its training starts.
"""
from dataclasses import dataclass
from typing import Callable

from .smdp_objectives import MultiStep


@dataclass(frozen=True)
class Surrogate(MultiStep):
    """Stage 1: the learned reverse physics step `P̃⁻¹` trained alone with the multi-step loss (`s_θ ≡ 0`)."""

    def network(self, scene):
        return scene.surrogate_network()

    def loss(self, scene, net) -> Callable:
        return scene.surrogate_loss(net)

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        window = self.curriculum(steps)
        return lambda i, seed: scene.windows(window(i), size, seed, noise=False)


@dataclass(frozen=True)
class OnFrozen(MultiStep):
    """Stage 2: the correction `s_θ` trained with the multi-step loss on top of the frozen network of method `stage`.

    Attributes:
        stage: Name of the method whose trained network is the frozen `P̃⁻¹`.
    """
    stage: str = 'surrogate'

    def network(self, scene):
        return scene.correction_network()

    def loss(self, scene, net) -> Callable:
        return scene.correction_loss(net, scene.trained_network(self.stage))

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        window = self.curriculum(steps)
        return lambda i, seed: scene.windows(window(i), size, seed, noise=True)


@dataclass(frozen=True)
class Simultaneous(MultiStep):
    """`P̃⁻¹` and `s_θ` trained together from scratch with the multi-step loss, one network holding both."""

    def network(self, scene):
        return scene.joint_network()

    def loss(self, scene, net) -> Callable:
        return scene.joint_loss(net)

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        window = self.curriculum(steps)
        return lambda i, seed: scene.windows(window(i), size, seed, noise=True)


def freeze(net):
    """Stops gradients from accumulating in a PyTorch module's weights; JAX networks only change where an
    optimizer updates them, so they are returned unchanged."""
    if hasattr(net, 'named_parameters'):
        for parameter in net.parameters():
            parameter.requires_grad_(False)
    return net
