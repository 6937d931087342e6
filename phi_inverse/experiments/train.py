"""The training loop shared by all scenes: timing, evaluation, progress bar, checkpoints with resume, NaN guard.

The loop knows nothing about physics or networks. It calls `step(i) -> loss` for every training step and
`evaluate() -> {metric: value}` at fixed intervals, and records a learning curve against both the step
count and the accumulated training wall time (evaluation excluded).
"""
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np
from tqdm.auto import tqdm

from ..support import distributed
from ..support.checkpoint import Checkpoint


class TrainingDiverged(RuntimeError):
    """Raised when the training loss becomes NaN or infinite; carries the step at which it happened."""

    def __init__(self, step: int, loss: float, hint: str = ''):
        self.step = step
        super().__init__(f"Training loss became {loss} at step {step}; stopped instead of training on NaN. "
                         f"{hint or 'Lower the learning rate or check the data and the simulation for non-finite values.'}")


@dataclass
class TrainingResult:
    """Learning curve and timings of one training run.

    Attributes:
        curve: `{'step': [...], 'wall_time': [...], metric: [...]}`, one entry per evaluation.
        step_times: Wall time of every training step taken in this and resumed-from runs.
    """
    curve: Dict[str, List[float]] = field(default_factory=lambda: {'step': [], 'wall_time': []})
    step_times: List[float] = field(default_factory=list)

    @property
    def final(self) -> Dict[str, float]:
        return {key: values[-1] for key, values in self.curve.items() if key not in ('step', 'wall_time') and values}

    @property
    def seconds_per_step(self) -> float:
        return float(np.median(self.step_times)) if self.step_times else float('nan')

    @property
    def steps_done(self) -> int:
        return int(self.curve['step'][-1]) if self.curve['step'] else 0

    def record(self, step: int, metrics: Dict[str, float]):
        self.curve['step'].append(step)
        self.curve['wall_time'].append(float(sum(self.step_times)))
        for key, value in metrics.items():
            self.curve.setdefault(key, []).append(float(value))

    def to_dict(self) -> dict:
        return {'curve': self.curve, 'final': self.final, 'seconds_per_step': self.seconds_per_step, 'steps': self.steps_done}


def train(step: Callable[[int], float],
          evaluate: Callable[[], Dict[str, float]],
          steps: int,
          eval_every: int,
          checkpoint: Optional[Checkpoint] = None,
          resume: bool = False,
          on_evaluation: Callable[[TrainingResult], None] = None,
          description: str = 'training',
          divergence_hint: str = '',
          time_budget: Optional[float] = None) -> TrainingResult:
    """Runs `steps` training steps, evaluating at step 0, every `eval_every` steps and at the end.

    Args:
        step: Performs training step `i` (0-based; it should draw its data from `i`) and returns the loss.
        evaluate: Returns the metrics of the current model on a fixed test set.
        steps: Total number of training steps, including steps done before a resume.
        eval_every: Evaluation interval in steps.
        checkpoint: Saved after every evaluation, so an interrupted run can be resumed.
        resume: Continue from `checkpoint` if it exists: the model, optimizer, curve and timings are restored
            and training continues at the saved step, so the curve continues as if never interrupted.
        on_evaluation: Called with the result so far after every evaluation (e.g. to update `metrics.json`).
        description: Label of the progress bar.
        divergence_hint: Advice appended to the `TrainingDiverged` message.
        time_budget: If set, training also stops (with a final evaluation) as soon as the accumulated training
            wall time (evaluation excluded, resumed runs included) reaches this many seconds; `steps` is then
            an upper bound. Methods given the same budget are compared at equal wall time.

    Raises:
        TrainingDiverged: As soon as a step returns a non-finite loss.
    """
    if eval_every < 1 or steps < 0:
        raise ValueError(f"Need steps >= 0 and eval_every >= 1 but got steps={steps}, eval_every={eval_every}.")
    result = _restore(checkpoint) if resume and checkpoint is not None and checkpoint.exists else TrainingResult()
    if not result.curve['step']:
        _evaluate(result, 0, evaluate, checkpoint, on_evaluation)
    timed = time_budget is not None
    used = sum(result.step_times)
    with tqdm(total=time_budget if timed else steps, initial=used if timed else result.steps_done, desc=description,
              unit='s' if timed else 'step', leave=False, disable=None if distributed.is_main() else True) as progress:
        for i in range(result.steps_done, steps):
            if timed and distributed.main_decides(used >= time_budget):
                break
            start = time.perf_counter()
            loss = float(step(i))
            seconds = time.perf_counter() - start
            result.step_times.append(seconds)
            used += seconds
            if not np.isfinite(loss):
                raise TrainingDiverged(i, loss, divergence_hint)
            progress.update(seconds if timed else 1)
            progress.set_postfix(loss=f'{loss:.3g}')
            if (i + 1) % eval_every == 0 or i + 1 == steps or (timed and distributed.main_decides(used >= time_budget)):
                _evaluate(result, i + 1, evaluate, checkpoint, on_evaluation)
    return result


def _evaluate(result: TrainingResult, step: int, evaluate, checkpoint: Optional[Checkpoint], on_evaluation):
    result.record(step, evaluate())
    if checkpoint is not None:
        checkpoint.save({'curve': result.curve, 'step_times': result.step_times})
    if on_evaluation is not None:
        on_evaluation(result)


def _restore(checkpoint: Checkpoint) -> TrainingResult:
    progress = checkpoint.load()
    return TrainingResult(curve=progress['curve'], step_times=progress['step_times'])
