"""Train one scene with several methods on the same data stream and test set, and write `metrics.json`.

Every method starts from the same seeded network initialisation, sees the same seeded batch at step `i`
and is evaluated on the same seeded test set, so their curves are directly comparable.
"""
import json
import os
import warnings
from typing import Dict, Optional

from phi import math
from phiml.backend import default_backend

from ..support.checkpoint import Checkpoint
from ..support.checks import require_trainable_backend
from .scenes.base import Method, Scene, data_seed, evaluator, make_step, split
from .train import TrainingDiverged, TrainingResult, train

TEST_STREAM = 0


class Experiment:
    """Trains methods of a scene and keeps their results in the `metrics.json` format.

    Args:
        scene: The scene to train on.
        batch_size: Examples per training step.
        seed: Seeds the data stream, the test set and the network initialisation.
        test_size: Number of examples in the fixed test set.
        out: Directory for `metrics.json` and checkpoints; `None` keeps everything in memory.
        config: Extra settings to record (e.g. the command-line flags).
        jit: Compile each training step's loss (network, physics, update); see `scenes.base.make_step`.
    """

    def __init__(self, scene: Scene, batch_size: int, seed: int = 0, test_size: int = 64, out: Optional[str] = None,
                 config: dict = None, jit: bool = False):
        require_trainable_backend()
        self.scene = scene
        self.jit = jit
        self.batch_size = batch_size
        self.seed = seed
        self.out = out
        self.test_set = scene.sample(test_size, data_seed(seed, TEST_STREAM))
        self.networks = {}
        self.metrics = {
            'scene': scene.name,
            'backend': default_backend().name,
            'device': default_backend().get_default_device().device_type,
            'config': {'batch': batch_size, 'seed': seed, 'test_size': test_size, 'jit': jit, **scene.config(), **(config or {})},
            'methods': {},
            'figures': [],
        }

    def run(self, name: str, method: Method, steps: int, eval_every: int, resume: bool = False,
            time_budget: Optional[float] = None) -> Optional[TrainingResult]:
        """Trains a fresh network with `method` for `steps` steps; records the result under `name`.

        A diverging method is recorded with its `diverged_at` step and does not stop the experiment.
        With `time_budget` (seconds of training wall time), training stops when the budget is spent
        or after `steps` steps, whichever comes first (see `train.train`).
        """
        math.seed(self.seed)
        net = self.scene.network()
        optimizer = method.make_optimizer(net)
        self.networks[name] = net
        checkpoint = Checkpoint(os.path.join(self.out, 'checkpoints', name), {'net': net, 'optimizer': optimizer}) if self.out else None
        entry = self.metrics['methods'].setdefault(name, {})
        entry['method'] = {'loss': method.loss, 'optimizer': method.optimizer, 'learning_rate': method.learning_rate,
                           'momentum': method.momentum}

        def record(result: TrainingResult):
            entry.update(result.to_dict())
            self.save()
        try:
            scene = self.scene.for_method(name)
            return train(make_step(scene, method, net, optimizer, self.batch_size, self.seed, self.jit),
                         evaluator(scene, net, self.test_set, self.batch_size),
                         steps, eval_every, checkpoint, resume, record, description=f'{self.scene.name}/{name}',
                         divergence_hint=f"Method '{name}' uses learning rate {method.learning_rate}; try a smaller one.",
                         time_budget=time_budget)
        except TrainingDiverged as diverged:
            warnings.warn(str(diverged), RuntimeWarning)
            entry['diverged_at'] = diverged.step
            self.save()
            return None

    def save(self):
        """Writes `metrics.json` to `out` (no-op without `out`)."""
        if self.out:
            os.makedirs(self.out, exist_ok=True)
            with open(os.path.join(self.out, 'metrics.json'), 'w') as file:
                json.dump(self.metrics, file, indent=1)

    def test_predictions(self) -> Dict[str, object]:
        """Each trained network's prediction for the first evaluation chunk of the test set."""
        first = next(split(self.test_set, self.batch_size))
        return {name: self.scene.predict(net, first) for name, net in self.networks.items()}

    def final(self, method: str) -> Dict[str, float]:
        return self.metrics['methods'][method].get('final', {})
