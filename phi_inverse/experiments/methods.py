"""Methods: what a network is trained on, with which optimizer and learning-rate schedule, and one training step.

A `Method` pairs an *objective* (the loss of one step and the data it draws) with an optimizer. Objectives are
small frozen dataclasses that call hooks of the scene they train on; SIP's live in `sip_scene`, SMDP's in
`smdp_objectives`. Adding a method to a scene is one entry in its `methods`; nothing here changes.
"""
from dataclasses import asdict, dataclass, fields, replace
from typing import Callable, Optional, Protocol, Tuple

from phi import math
from phiml import nn

from ..support import distributed, optimizers
from ..support.jit_update import adam, cosine_decay, jit_update
from .scenes.base import TRAINING_STREAM, data_seed

OPTIMIZERS = {'adam': nn.adam, 'sgd': nn.sgd, 'adagrad': nn.adagrad, 'rmsprop': nn.rmsprop, 'adadelta': optimizers.adadelta}


class Objective(Protocol):
    """What one training step minimises. Implementations are frozen dataclasses; see `sip_scene` and `smdp_objectives`."""

    def network(self, scene):
        """A freshly initialised network for this objective on `scene`."""

    def loss(self, scene, net) -> Callable:
        """`loss(*data) -> loss` (or `(loss, aux)`), a function of Tensors that may be compiled."""

    def batches(self, scene, size: int, steps: int) -> Callable[[int, int], tuple]:
        """`data(i, seed)`: the arguments of `loss` for training step `i` of `steps`, drawn from `seed`.

        An objective whose consecutive steps share one simulated batch also defines `data_index(i)`, the index of
        that batch; step `i` then gets the seed of batch `data_index(i)` (default: `i`).
        """


@dataclass(frozen=True)
class Method:
    """A training method: objective, optimizer, learning rate (constant or decaying), evaluation variants.

    Attributes:
        objective: What a training step minimises and which data it draws.
        optimizer: One of `OPTIMIZERS`.
        learning_rate: Learning rate (at the start, if `final_learning_rate` is set).
        final_learning_rate: If set, the learning rate decays from `learning_rate` to this value over the run
            (cosine, on every backend); Adam only.
        momentum: SGD momentum.
        variants: Evaluation variants of one trained network, each recorded as `<name>-<variant>` in
            `metrics.json` (e.g. `('ode', 'sde')`: the SMDP correction sampled two ways). Empty: one entry `<name>`.
        gradient_clip: If set, every step clips the gradient to this global norm (`optimizers.clip_gradient_norm`).
    """
    objective: Objective
    optimizer: str = 'adam'
    learning_rate: float = 1e-3
    final_learning_rate: Optional[float] = None
    momentum: float = 0.
    variants: Tuple[str, ...] = ()
    gradient_clip: Optional[float] = None

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)} but got '{self.optimizer}'.")
        if self.final_learning_rate is not None and self.optimizer != 'adam':
            raise ValueError(f"A decaying learning rate needs optimizer 'adam', not '{self.optimizer}'.")
        if self.gradient_clip is not None and not self.gradient_clip > 0:
            raise ValueError(f"gradient_clip must be positive or None but got {self.gradient_clip}.")

    def entries(self, name: str) -> Tuple[str, ...]:
        """The `metrics.json` entries of this method trained under `name`."""
        return tuple(f'{name}-{variant}' for variant in self.variants) or (name,)

    def make_optimizer(self, net, steps: Optional[int] = None):
        """The optimizer of `net` for a run of `steps` steps (needed with a decaying learning rate)."""
        optimizer = self._unclipped_optimizer(net, steps)
        return optimizers.clip_gradient_norm(optimizer, self.gradient_clip) if self.gradient_clip else optimizer

    def _unclipped_optimizer(self, net, steps: Optional[int]):
        if self.final_learning_rate is not None:
            if steps is None:
                raise ValueError("A decaying learning rate needs the run's length: make_optimizer(net, steps).")
            return adam(net, cosine_decay(self.learning_rate, self.final_learning_rate, steps))
        if self.optimizer == 'sgd':
            return nn.sgd(net, self.learning_rate, momentum=self.momentum)
        return OPTIMIZERS[self.optimizer](net, self.learning_rate)

    def with_learning_rate(self, learning_rate: float) -> 'Method':
        return replace(self, learning_rate=learning_rate)

    def describe(self) -> dict:
        """The method's settings for `metrics.json`."""
        objective = {f.name: getattr(self.objective, f.name) for f in fields(self.objective)
                     if isinstance(getattr(self.objective, f.name), (int, float, str, bool, type(None)))}
        settings = {k: v for k, v in asdict(self).items() if k not in ('objective', 'variants')}
        return {'objective': type(self.objective).__name__, **objective, **settings, 'variants': list(self.variants)}


def make_step(scene, method: Method, net, optimizer, batch_size: int, seed: int, steps: int,
              jit: bool = False) -> Callable[[int], float]:
    """The training step `step(i) -> loss` of any scene: draw batch `i` from the seed, one (compiled) update.

    Under data parallelism (`support.distributed`) every worker draws the same global batch, trains on its shard
    and returns the loss of the global batch.

    Args:
        jit: Compile the loss with its gradient (network, physics, update); traced once per batch shape.
    """
    update, data = update_and_batches(scene, method, net, optimizer, batch_size, steps, jit)
    data_index = getattr(method.objective, 'data_index', lambda i: i)

    def step(i: int) -> float:
        shard = distributed.shard(data(i, data_seed(seed, TRAINING_STREAM, data_index(i))))
        return distributed.mean_over_workers(float(update(*shard)))
    return step


def update_and_batches(scene, method: Method, net, optimizer, batch_size: int, steps: int, jit: bool = False):
    """The two halves of a training step: `update(*batch) -> loss`, one (compiled) optimizer step on a batch, and
    `batches(i, seed) -> batch`, batch `i` of a run of `steps` steps drawn from `seed`."""
    return jit_update(net, optimizer, method.objective.loss(scene, net), jit), method.objective.batches(scene, batch_size, steps)


def start_training(scene, method: Method, batch_size: int, seed: int, steps: int, jit: bool = False):
    """A freshly initialised network (seeded with `seed`), its optimizer and its training step `step(i) -> loss`.

    The returned network and optimizer are the ones to evaluate and checkpoint; under data parallelism the step
    trains them through their parallel wrappers.
    """
    math.seed(seed)
    net = method.objective.network(scene)
    optimizer = method.make_optimizer(net, steps)
    train_net, train_optimizer = distributed.parallelize(net, optimizer, compiled_loss=jit)
    return net, optimizer, make_step(scene, method, train_net, train_optimizer, batch_size, seed, steps, jit)
