"""The runner: train methods of a scene on one seeded data stream and test set, and write `metrics.json`.

Every method starts from the same seeded network initialisation, sees the same seeded batch at step `i` and is
evaluated on the same test set, so their curves are directly comparable. One trained network may serve several
entries of `metrics.json` (its `variants`, e.g. `smdp-ode` and `smdp-sde`); each entry gets its own learning
curve, `final` metrics and `seconds_per_step`. Checkpoints, resume and the NaN guard come from `train.train`.
"""
import json
import os
import time
import warnings
from typing import Dict, Optional, Tuple

from ..support import distributed
from ..support.backends import describe_device
from ..support.checkpoint import Checkpoint
from ..support.checks import require_trainable_backend
from .methods import Method, start_training
from .scenes.base import Scene
from .scenes.sip_scene import split
from .train import TrainingDiverged, TrainingResult, train

SEPARATOR = '/'


class Experiment:
    """Trains methods of a scene and keeps their results in the `metrics.json` format.

    Args:
        scene: The scene to train on.
        batch_size: Examples per training step (also the evaluation chunk).
        seed: Seeds the data stream, the test set and the network initialisation.
        test_size: Number of examples in the fixed test set.
        out: Directory for `metrics.json` and checkpoints; `None` keeps everything in memory.
        config: Extra settings to record (e.g. the command-line flags).
        jit: Compile each training step's loss and gradient (network, physics, update).
        write: Write `metrics.json` to `out`; `False` keeps only the checkpoints there (a worker of `--jobs`).
        clock: `(time.process_time(), time.perf_counter())` at the start of the run (default: now), so that the
            recorded wall time includes work done before, such as the `--jobs` workers' training.
    """

    def __init__(self, scene: Scene, batch_size: int, seed: int = 0, test_size: int = 64, out: Optional[str] = None,
                 config: dict = None, jit: bool = False, write: bool = True, clock: Tuple[float, float] = None):
        backend = require_trainable_backend()
        self.scene, self.batch_size, self.seed, self.out, self.jit, self.write = scene, batch_size, seed, out, jit, write
        self.test_set = scene.test_set(test_size, seed)
        self.networks = {}
        self._clock = clock or (time.process_time(), time.perf_counter())
        self.metrics = {
            'scene': scene.name,
            'backend': backend.name,
            'device': describe_device(backend),
            'distributed': distributed.world().describe(),
            'config': {'batch': batch_size, 'seed': seed, 'test_size': test_size, 'jit': jit, **scene.config(), **(config or {})},
            'methods': {},
            'figures': [],
        }

    def run(self, name: str, method: Method, steps: int, eval_every: int, resume: bool = False,
            time_budget: Optional[float] = None) -> Optional[TrainingResult]:
        """Trains a fresh network with `method` for `steps` steps; records its entries (`method.entries(name)`).

        A diverging method is recorded with its `diverged_at` step and does not stop the experiment. With
        `time_budget` (seconds of training wall time), training stops when the budget is spent or after `steps`
        steps, whichever comes first (see `train.train`). With `resume`, training continues from the checkpoint in
        `out`; a run that had finished is recorded from its checkpoint without training.
        """
        net, optimizer, step = start_training(self.scene, method, self.batch_size, self.seed, steps, self.jit)
        self.networks[name] = net
        if hasattr(self.scene, 'register_network'):
            self.scene.register_network(name, net)  # later stages may build on it (experiments.staged)
        checkpoint = Checkpoint(os.path.join(self.out, 'checkpoints', name), {'net': net, 'optimizer': optimizer}) if self.out else None
        checkpoint = distributed.main_only_checkpoint(checkpoint)
        entries = {entry: self.metrics['methods'].setdefault(entry, {}) for entry in method.entries(name)}
        for entry in entries.values():
            entry.update({'model': name, 'method': method.describe()})

        def record(result: TrainingResult):
            for entry_name, entry in entries.items():
                entry.update(_entry_record(result, entry_name))
            self.save()
        try:
            result = train(step, distributed.main_only_evaluation(self._evaluator(net, method, name)), steps, eval_every, checkpoint, resume, record,
                           description=f'{self.scene.name}/{name}', time_budget=time_budget,
                           divergence_hint=f"Method '{name}' uses learning rate {method.learning_rate}; try a smaller one "
                                           f"(--lr {name}=...).")
        except TrainingDiverged as diverged:
            warnings.warn(str(diverged), RuntimeWarning)
            for entry in entries.values():
                entry['diverged_at'] = diverged.step
            self.save()
            return None
        record(result)
        return result

    def _evaluator(self, net, method: Method, name: str):
        def evaluate() -> Dict[str, float]:
            results = self.scene.evaluate(net, method, self.test_set, self.batch_size)
            return {f'{name}-{variant}' if variant else name: values for variant, values in results.items()}

        def flat_evaluate() -> Dict[str, float]:
            return {f'{entry}{SEPARATOR}{key}': value for entry, values in evaluate().items() for key, value in values.items()}
        return flat_evaluate

    def record_final(self, entry: str, values: Dict[str, float]):
        """Adds metrics computed after training (e.g. on more samples) to `final` of `entry`."""
        self.metrics['methods'].setdefault(entry, {}).setdefault('final', {}).update(values)
        self.save()

    def save(self):
        """Writes `metrics.json` to `out` (no-op without `out`), with the process CPU and wall time so far."""
        self.metrics['cpu_seconds'] = time.process_time() - self._clock[0]
        self.metrics['wall_seconds'] = time.perf_counter() - self._clock[1]
        if self.out and self.write and distributed.is_main():
            os.makedirs(self.out, exist_ok=True)
            with open(os.path.join(self.out, 'metrics.json'), 'w') as file:
                json.dump(self.metrics, file, indent=1)

    def test_predictions(self) -> Dict[str, object]:
        """Each trained network's prediction for the first evaluation chunk of the test set (SIP scenes)."""
        first = next(split(self.test_set, self.batch_size))
        return {name: self.scene.predict(net, first) for name, net in self.networks.items()}

    def final(self, entry: str) -> Dict[str, float]:
        return self.metrics['methods'][entry].get('final', {})


def _entry_record(result: TrainingResult, entry: str) -> dict:
    prefix = entry + SEPARATOR
    curve = {'step': result.curve['step'], 'wall_time': result.curve['wall_time']}
    curve.update({key[len(prefix):]: values for key, values in result.curve.items() if key.startswith(prefix)})
    final = {key: values[-1] for key, values in curve.items() if key not in ('step', 'wall_time') and values}
    return {'curve': curve, 'final': final, 'seconds_per_step': result.seconds_per_step, 'steps': result.steps_done}
