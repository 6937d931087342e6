"""What a SIP scene provides, and how a scene and a method become a training step.

A scene bundles a data generator, the physics `P`, its inverse update, a default network and the
paper's methods. `make_step()` turns a scene and a `Method` into the `step(i)` of `phi_inverse.experiments.train`.
"""
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Tuple

import numpy as np
from phi import math
from phiml import nn

from ...support import optimizers
from ... import sip
from ...support.checks import check_finite, require_trainable_backend
from ...metrics import half_squared_norm, mean_abs_error

LOSSES = ('sip', 'physics')
OPTIMIZERS = {'adam': nn.adam, 'sgd': nn.sgd, 'adagrad': nn.adagrad, 'rmsprop': nn.rmsprop, 'adadelta': optimizers.adadelta}


@dataclass(frozen=True)
class Method:
    """A training method: which loss the network minimises and with which optimizer.

    Attributes:
        loss: `'sip'` (inverse-physics update, `sip.sip_loss`) or `'physics'` (backpropagate `½‖P(x̂) − y*‖²`).
        optimizer: One of `OPTIMIZERS`.
        learning_rate: Optimizer learning rate.
        momentum: SGD momentum.
    """
    loss: str
    optimizer: str = 'adam'
    learning_rate: float = 1e-3
    momentum: float = 0.

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES} but got '{self.loss}'.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)} but got '{self.optimizer}'.")

    def make_optimizer(self, net):
        if self.optimizer == 'sgd':
            return nn.sgd(net, self.learning_rate, momentum=self.momentum)
        return OPTIMIZERS[self.optimizer](net, self.learning_rate)

    def with_learning_rate(self, learning_rate: float) -> 'Method':
        return replace(self, learning_rate=learning_rate)


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


class Scene:
    """Base class of the SIP scenes. Subclasses set `name` and `methods` and implement the abstract parts."""
    name: str = ''
    methods: Dict[str, Method] = {}

    def config(self) -> dict:
        """The scene's settings, recorded in `metrics.json`."""
        raise NotImplementedError

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

    def for_method(self, name: str) -> 'Scene':
        """The scene as method `name` trains on it. Scenes whose methods differ in more than loss and optimizer
        (e.g. SIP methods with different inverse updates) return a variant; data and test set stay the same."""
        return self

    def physics_loss(self, x_pred, batch: Batch) -> Tuple[math.Tensor, math.Tensor]:
        """The loss the baseline backpropagates, `(loss, y_loss)` per example. Default: `½‖P(x̂) − y*‖²`."""
        return sip.physics_loss(x_pred, batch.y, self.simulator(batch))

    def sip_loss(self, x_pred, batch: Batch) -> Tuple[math.Tensor, math.Tensor]:
        return sip.sip_loss(x_pred, batch.y, self.simulator(batch), self.inverse_update(batch))

    def metrics(self, x_pred, batch: Batch) -> Dict[str, math.Tensor]:
        """Per-example metrics: `x_mae` (mean |x̂ − x*| over cells) and `y_loss` (`½‖P(x̂) − y*‖²`)."""
        y = self.simulator(batch)(x_pred)
        return {'x_mae': mean_abs_error(x_pred, batch.x), 'y_loss': half_squared_norm(y - batch.y)}


def data_seed(seed: int, *stream: int) -> int:
    """A 32-bit seed derived from the run seed and a stream index (e.g. the training step)."""
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1)[0])


def make_step(scene: Scene, method: Method, net, optimizer, batch_size: int, seed: int, jit: bool = False) -> Callable[[int], float]:
    """The training step `step(i) -> loss`: draw batch `i`, compute the method's loss, update the network.

    Args:
        jit: Compile the loss (network, physics and update) with `math.jit_compile`; traced once per batch shape.
    """
    require_trainable_backend()
    loss_of_prediction = scene.sip_loss if method.loss == 'sip' else scene.physics_loss

    def loss_function(batch: Batch):
        loss, y_loss = loss_of_prediction(scene.predict(net, batch), batch)
        return sip.batch_mean(loss), y_loss
    objective = math.jit_compile(loss_function) if jit else loss_function

    def step(i: int) -> float:
        batch = scene.sample(batch_size, data_seed(seed, 1, i))
        check_finite(batch.y, f'the target observations of training batch {i}')
        loss, _ = nn.update_weights(net, optimizer, objective, batch)
        return float(loss.numpy())
    return step


def evaluator(scene: Scene, net, test_set: Batch, chunk: int) -> Callable[[], Dict[str, float]]:
    """`evaluate() -> {metric: mean over the test set}`, predicting in chunks of `chunk` examples."""
    def evaluate() -> Dict[str, float]:
        per_example = [scene.metrics(scene.predict(net, part), part) for part in split(test_set, chunk)]
        return {key: float(np.mean(np.concatenate([_numpy(m[key]) for m in per_example]))) for key in per_example[0]}
    return evaluate


def split(batch: Batch, chunk: int):
    """Splits a batch along its batch dimension into pieces of at most `chunk` examples."""
    dim = math.batch(batch.y).names[0]
    size = math.batch(batch.y).get_size(dim)
    for start in range(0, size, chunk):
        piece = {dim: slice(start, min(start + chunk, size))}
        yield Batch(*[None if v is None else v[piece] for v in (batch.x, batch.y, batch.condition)])


def _numpy(per_example: math.Tensor) -> np.ndarray:
    return np.atleast_1d(per_example.numpy(per_example.shape.batch))
