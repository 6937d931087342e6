"""SIP scenes and their two objectives: the inverse-physics update (SIP) and backpropagation through the physics.

A SIP scene bundles a data generator, the physics `P`, its inverse update, a default network and the paper's
methods. Both objectives draw the same batches and are evaluated on the same test set (`x_mae`, `y_loss`).
"""
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
from phi import math

from ... import sip
from ...metrics import half_squared_norm, mean_abs_error
from ...support.checks import check_finite
from .base import TEST_STREAM, Scene, data_seed


@dataclass
class Batch:
    """Examples of an inverse problem.

    Attributes:
        x: Ground-truth parameters `x*`.
        y: Target observations `y* = P(x*)`.
        condition: Anything else the simulation needs and the network sees (e.g. the initial marker).
    """
    x: Any
    y: Any
    condition: Any = None


class SIPScene(Scene):
    """Base class of the SIP scenes. Subclasses set `name` and `methods` and implement the abstract parts."""

    def sample(self, size: int, seed: int) -> Batch:
        """`size` examples drawn reproducibly from `seed`, on the default backend."""
        raise NotImplementedError

    def network(self):
        """A freshly initialised network of the default ML backend."""
        raise NotImplementedError

    def predict(self, net, batch: Batch):
        """The network's estimate `x̂` for `batch`."""
        raise NotImplementedError

    def simulator(self, batch: Batch) -> Callable:
        """The forward physics `P` for the examples of `batch`."""
        raise NotImplementedError

    def inverse_update(self, batch: Batch) -> sip.InverseUpdate:
        """The SIP inverse update for the examples of `batch`."""
        raise NotImplementedError

    def physics_loss(self, x_pred, batch: Batch) -> Tuple[math.Tensor, math.Tensor]:
        """The loss the baseline backpropagates, `(loss, y_loss)` per example. Default: `½‖P(x̂) − y*‖²`."""
        return sip.physics_loss(x_pred, batch.y, self.simulator(batch))

    def sip_loss(self, x_pred, batch: Batch, update: Optional[sip.InverseUpdate] = None) -> Tuple[math.Tensor, math.Tensor]:
        """`½‖x̂ − sg(x̂ + Δx)‖²` with the scene's inverse update, or `update` where a method brings its own."""
        return sip.sip_loss(x_pred, batch.y, self.simulator(batch), update or self.inverse_update(batch))

    def metrics(self, x_pred, batch: Batch) -> Dict[str, math.Tensor]:
        """Per-example metrics: `x_mae` (mean |x̂ − x*| over cells) and `y_loss` (`½‖P(x̂) − y*‖²`)."""
        y = self.simulator(batch)(x_pred)
        return {'x_mae': mean_abs_error(x_pred, batch.x), 'y_loss': half_squared_norm(y - batch.y)}

    def test_set(self, size: int, seed: int) -> Batch:
        return self.sample(size, data_seed(seed, TEST_STREAM))

    def evaluate(self, net, method, test_set: Batch, chunk: int) -> Dict[str, Dict[str, float]]:
        per_example = [self.metrics(self.predict(net, part), part) for part in split(test_set, chunk)]
        return {'': {key: float(np.mean(np.concatenate([_numpy(m[key]) for m in per_example]))) for key in per_example[0]}}


@dataclass(frozen=True)
class InverseUpdateLoss:
    """SIP: the network minimises `½‖x̂ − sg(x̂ + Δx)‖²` with an inverse-physics update `Δx` (SIP paper, eq. 6).

    Attributes:
        update: Factory of the inverse update, for methods that differ from the scene's `inverse_update`
            (e.g. several Newton variants on one scene); `None` uses the scene's.
    """
    update: Optional[Callable[[], sip.InverseUpdate]] = None

    def network(self, scene: SIPScene):
        return scene.network()

    def loss(self, scene: SIPScene, net) -> Callable:
        update = self.update() if self.update is not None else None

        def loss(batch: Batch):
            loss, y_loss = scene.sip_loss(scene.predict(net, batch), batch, update)
            return sip.batch_mean(loss), y_loss
        return loss

    def batches(self, scene: SIPScene, size: int, steps: int) -> Callable[[int, int], tuple]:
        return lambda i, seed: (_checked(scene.sample(size, seed), i),)


@dataclass(frozen=True)
class PhysicsLoss:
    """The baseline: backpropagate the scene's `physics_loss` (default `½‖P(x̂) − y*‖²`) through the simulation."""

    def network(self, scene: SIPScene):
        return scene.network()

    def loss(self, scene: SIPScene, net) -> Callable:
        def loss(batch: Batch):
            loss, y_loss = scene.physics_loss(scene.predict(net, batch), batch)
            return sip.batch_mean(loss), y_loss
        return loss

    def batches(self, scene: SIPScene, size: int, steps: int) -> Callable[[int, int], tuple]:
        return lambda i, seed: (_checked(scene.sample(size, seed), i),)


SIP = InverseUpdateLoss()
PHYSICS = PhysicsLoss()


def _checked(batch: Batch, step: int) -> Batch:
    check_finite(batch.y, f'the target observations of training batch {step}')
    return batch


def split(batch: Batch, chunk: int):
    """Splits a batch along its batch dimension into pieces of at most `chunk` examples."""
    dim = math.batch(batch.y).names[0]
    size = math.batch(batch.y).get_size(dim)
    for start in range(0, size, chunk):
        piece = {dim: slice(start, min(start + chunk, size))}
        yield Batch(*[None if v is None else v[piece] for v in (batch.x, batch.y, batch.condition)])


def _numpy(per_example: math.Tensor) -> np.ndarray:
    return np.atleast_1d(per_example.numpy(per_example.shape.batch))
