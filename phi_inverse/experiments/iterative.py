"""Iterative optimisation of single examples, the baseline that trained networks are compared with (SIP paper, Fig. 13).

Each example is solved on its own: `x` minimises the scene's physics loss (`½‖P(x) − y*‖²` by default) with PhiML's
`math.minimize`, by gradient descent (`'GD'`, adaptive step size) or SciPy's `'L-BFGS-B'`, for a fixed number of
iterations from a fixed initial guess. The networks answer many examples per call; `compare()` puts both side by
side: accuracy on the same examples and wall time per example.
"""
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Tuple

import numpy as np
from phi import math
from phi.math import Diverged, NotConverged, Solve, SolveTape

from ..metrics import mean_abs_error
from .scenes.sip_scene import Batch, SIPScene as Scene, split
from .timing import interleaved_medians

SOLVERS = {'gd': 'GD', 'l-bfgs-b': 'L-BFGS-B'}
"""Names used in `metrics.json` → PhiML / SciPy method names."""


@dataclass
class IterativeResult:
    """Outcome of one iterative solver on a set of examples.

    Attributes:
        method: PhiML / SciPy method name.
        iterations: Iterations per example.
        x: The final estimates, batched like the examples.
        x_mae: Final `x_mae` per example.
        seconds: Wall time per example (recording the trajectory included; it is a copy per iteration).
        curve: Mean `x_mae` over the examples after each iteration, starting with the initial guess.
    """
    method: str
    iterations: int
    x: object = None
    x_mae: List[float] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)
    curve: List[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {'method': self.method, 'iterations': self.iterations, 'x_mae': float(np.mean(self.x_mae)),
                'seconds_per_example': float(np.mean(self.seconds)), 'x_mae_per_example': self.x_mae,
                'curve': {'iteration': list(range(len(self.curve))), 'x_mae': self.curve}}


def zero_guess(example: Batch):
    """The paper's initial guess, `x = 0`."""
    return example.x * 0


def solve_examples(scene: Scene, examples: Batch, method: str, iterations: int,
                   initial_guess: Callable[[Batch], object] = zero_guess) -> IterativeResult:
    """Minimises the scene's physics loss over `x` for every example separately.

    Args:
        scene: Provides the simulation (`scene.physics_loss`).
        examples: Examples with ground truth `x` for the error curve; solved one at a time.
        method: `'GD'` or any SciPy method, e.g. `'L-BFGS-B'`.
        iterations: Iterations per example. A solver that stops earlier (no further progress) keeps its last `x`.
        initial_guess: `x` to start from, per example.

    Returns:
        Final estimates, per-example errors and wall times, and the mean error curve over iterations.
    """
    result = IterativeResult(method, iterations)
    curves, estimates = [], []
    for example in split(examples, 1):
        solve = Solve(method, rel_tol=0, abs_tol=0, x0=initial_guess(example), max_iterations=iterations,
                      suppress=(NotConverged, Diverged))
        start = time.perf_counter()
        with SolveTape(record_trajectories=True) as tape:
            math.minimize(lambda x: scene.physics_loss(x, example)[0], solve)
        result.seconds.append(time.perf_counter() - start)
        trajectory = tape[solve].x
        errors = mean_abs_error(trajectory, example.x).numpy(['trajectory', ...]).reshape(-1)[:iterations + 1]
        curves.append(np.pad(errors, (0, iterations + 1 - len(errors)), mode='edge'))
        result.x_mae.append(float(errors[-1]))
        estimates.append(trajectory.trajectory[-1])
    result.curve = [float(e) for e in np.mean(curves, axis=0)]
    result.x = math.concat(estimates, math.batch(examples.y).names[0])
    return result


def inference_seconds(scene: Scene, networks: Dict[str, object], examples: Batch, repeat: int = 10) -> Dict[str, float]:
    """Median wall time per example of each network predicting `examples` in one batched call."""
    times = interleaved_medians({name: (lambda net=net: scene.predict(net, examples)) for name, net in networks.items()},
                                repeat, warmup=2)
    size = math.batch(examples.y).volume
    return {name: seconds / size for name, seconds in times.items()}


def compare(scene: Scene, networks: Dict[str, object], test_set: Batch, examples: int, iterations: Dict[str, int],
            chunk: int) -> Tuple[dict, dict]:
    """Iterative solvers vs trained networks on the first `examples` test examples: `metrics.json`'s `iterative`.

    The networks predict in chunks of `chunk` examples, as in training and evaluation (batch normalisation sees
    the same batch statistics), and are timed per example on one such chunk; the solvers run on one example at
    a time.

    Args:
        scene: The scene the networks were trained on.
        networks: Trained networks by method name.
        test_set: Test examples; the solvers take the first `examples`.
        iterations: Solver name (a key of `SOLVERS`) → iterations.
        chunk: Examples per network call.

    Returns:
        `(section, solutions)`: the JSON-ready comparison and each solver's final estimates.
    """
    solved = next(split(test_set, examples))
    results = {name: solve_examples(scene, solved, SOLVERS[name], count) for name, count in iterations.items()}
    first_chunk = next(split(test_set, chunk))
    seconds = inference_seconds(scene, networks, first_chunk) if networks else {}
    section = {
        'examples': math.batch(solved.y).volume,
        'initial_guess': 'zero',
        'solvers': {name: result.to_dict() for name, result in results.items()},
        'networks': {name: {'x_mae': _network_error(scene, net, test_set, examples, chunk), 'seconds_per_example': seconds[name],
                            'inference_batch': math.batch(first_chunk.y).volume} for name, net in networks.items()},
    }
    return section, {name: result.x for name, result in results.items()}


def _network_error(scene: Scene, net, test_set: Batch, examples: int, chunk: int) -> float:
    errors = [mean_abs_error(scene.predict(net, part), part.x).numpy([math.batch(part.y)]) for part in split(test_set, chunk)]
    return float(np.mean(np.concatenate(errors)[:examples]))
