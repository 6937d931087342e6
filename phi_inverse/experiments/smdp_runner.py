"""Training SMDP models with `phi_inverse.experiments.train` and recording their methods in `metrics.json`.

One trained network can serve several methods (the SMDP correction is sampled with the ODE and with the SDE,
`smdp-ode` and `smdp-sde`), so a model's `evaluate()` returns metrics per method, and each method gets its own
learning curve, `final` metrics and `seconds_per_step` in `metrics.json`, plus the name of its `model`.
Checkpoints, resume and the NaN guard come from `phi_inverse.experiments.train`.
"""
import json
import os
import warnings
from typing import Callable, Dict, Optional, Sequence


from ..support.backends import describe_device
from ..support.checkpoint import Checkpoint
from ..support.checks import require_trainable_backend
from .train import TrainingDiverged, TrainingResult, train

SEPARATOR = '/'


class Runner:
    """Trains models and keeps their methods' results in the `metrics.json` format.

    Args:
        scene: Scene name recorded in `metrics.json`.
        out: Directory for `metrics.json`, checkpoints and figures; `None` keeps everything in memory.
        config: Settings to record (e.g. the command-line flags and the scene's constants).
    """

    def __init__(self, scene: str, out: Optional[str] = None, config: dict = None):
        backend = require_trainable_backend()
        self.out = out
        self.metrics = {'scene': scene, 'backend': backend.name, 'device': describe_device(backend),
                        'config': dict(config or {}), 'methods': {}, 'figures': []}

    def train(self, model: str, methods: Sequence[str], step: Callable[[int], float],
              evaluate: Callable[[], Dict[str, Dict[str, float]]], steps: int, eval_every: int,
              objects: Dict[str, object] = None, resume: bool = False) -> Optional[TrainingResult]:
        """Trains `model` and records the curves of its `methods`.

        Args:
            model: Name of the trained network, e.g. `'smdp'`; also the checkpoint folder.
            methods: Methods this model provides, e.g. `('smdp-ode', 'smdp-sde')`.
            step: `step(i) -> loss`, training step `i`.
            evaluate: Returns `{method: {metric: value}}` for (at least) `methods`.
            steps: Total training steps.
            eval_every: Evaluation interval in steps.
            objects: Networks and optimizers to checkpoint, by name.
            resume: Continue from the checkpoint in `out` if there is one.

        Returns:
            The training result, or `None` if training diverged (recorded as `diverged_at` of every method).
        """
        checkpoint = Checkpoint(os.path.join(self.out, 'checkpoints', model), objects or {}) if self.out else None
        entries = {m: self.metrics['methods'].setdefault(m, {'model': model}) for m in methods}

        def flat_evaluate() -> Dict[str, float]:
            return {f'{m}{SEPARATOR}{k}': v for m, values in evaluate().items() if m in entries for k, v in values.items()}

        def record(result: TrainingResult):
            for method, entry in entries.items():
                entry.update(_method_record(result, method))
            self.save()
        try:
            return train(step, flat_evaluate, steps, eval_every, checkpoint, resume, record, description=f"{self.metrics['scene']}/{model}")
        except TrainingDiverged as diverged:
            warnings.warn(str(diverged), RuntimeWarning)
            for entry in entries.values():
                entry['diverged_at'] = diverged.step
            self.save()
            return None

    def record_final(self, method: str, values: Dict[str, float]):
        """Adds metrics computed after training (e.g. a final evaluation on more samples) to `final` of `method`."""
        self.metrics['methods'].setdefault(method, {}).setdefault('final', {}).update(values)
        self.save()

    def save(self):
        """Writes `metrics.json` to `out` (no-op without `out`)."""
        if self.out:
            os.makedirs(self.out, exist_ok=True)
            with open(os.path.join(self.out, 'metrics.json'), 'w') as file:
                json.dump(self.metrics, file, indent=1)


def _method_record(result: TrainingResult, method: str) -> dict:
    prefix = method + SEPARATOR
    curve = {'step': result.curve['step'], 'wall_time': result.curve['wall_time']}
    curve.update({key[len(prefix):]: values for key, values in result.curve.items() if key.startswith(prefix)})
    final = {key: values[-1] for key, values in curve.items() if key not in ('step', 'wall_time') and values}
    return {'curve': curve, 'final': final, 'seconds_per_step': result.seconds_per_step, 'steps': result.steps_done}
