"""Backend comparison: time a scene's physics and training on the current backend, and check parity.

A scene takes part through a `Probe`: identical inputs (generated with NumPy from the seed), its forward
physics, its inverse update (or reverse simulator), a training step and a short training run. `measure()` runs
one probe on the default backend, eagerly and JIT-compiled where the backend supports it; `parity()` compares
the operator outputs of several backends on those identical inputs.
"""
import resource
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence

import numpy as np
from phi import math
from phi.field import Field
from phiml.backend import Backend, default_backend

from ..support import backends
from .timing import interleaved_medians

if TYPE_CHECKING:
    from .scenes.base import Scene

OPERATORS = ('forward', 'inverse')


@dataclass
class Probe:
    """The parts of a scene that a backend comparison runs; all callables use the default backend.

    Attributes:
        inputs: Returns the arguments of `forward` and `inverse`, identical on every backend.
        forward: The forward physics.
        inverse: The inverse update or reverse simulator.
        train_step: Returns a fresh training step `step(i) -> loss`.
        train: Trains a fresh model for the given number of steps and returns its final metrics.
    """
    inputs: Callable[[], tuple]
    forward: Callable[..., Any]
    inverse: Callable[..., Any]
    train_step: Callable[[], Callable[[int], float]]
    train: Callable[[int], Dict[str, float]]


def jit_modes(backend: Backend) -> Sequence[bool]:
    """`(False, True)` where the backend can JIT-compile, else `(False,)`."""
    return (False, True) if backend.supports(Backend.jit_compile) else (False,)


def measure(probe_for: Callable[[bool], Probe], steps: int, repeat: int, can_train: bool = True) -> (dict, dict):
    """Times one probe on the default backend.

    Args:
        probe_for: `probe_for(jit)` builds the probe with or without JIT-compiled physics and training step.
        steps: Training steps of the final-metrics run (JIT-compiled where supported).
        repeat: Timed repetitions per measurement (after warm-up).
        can_train: `False` for NumPy: only the physics is timed.

    Returns:
        `(report, outputs)`: the JSON-ready figures of this backend, and the eager operator outputs as NumPy
        arrays for `parity()`.
    """
    backend = default_backend()
    baseline_rss = _rss_mb()
    report = {'device': backends.describe_device(backend), 'jit_supported': backend.supports(Backend.jit_compile),
              'seconds': {}, 'memory': {}, 'final': {}}
    outputs = {}
    trainable_modes = []
    for jit in jit_modes(backend):
        probe = probe_for(jit)
        arguments = probe.inputs()
        mode = 'jit' if jit else 'eager'
        for name in OPERATORS:
            operator = getattr(probe, name)
            try:
                result = operator(*arguments)  # also traces the JIT mode before timing
            except NotImplementedError as error:  # NumPy cannot differentiate: no Hessian-based updates
                print(f"{backend.name}: skipping '{name}': {error}")
                continue
            if not jit:
                outputs[name] = as_numpy(result)
            report['seconds'].setdefault(name, {})[mode] = interleaved_medians({name: lambda: operator(*arguments)}, repeat)[name]
        if can_train:
            try:
                report['seconds'].setdefault('train_step', {})[mode] = _median_step_time(probe.train_step(), repeat)
                trainable_modes.append(jit)
            except RuntimeError as error:  # e.g. torch.jit.trace cannot record a backward pass inside the step
                report.setdefault('errors', {})[f'train_step {mode}'] = str(error).splitlines()[0]
                print(f"{backend.name}: no {mode} training step: {report['errors'][f'train_step {mode}']}")
    if trainable_modes:
        report['final'] = probe_for(trainable_modes[-1]).train(steps)
    report['memory'] = {'peak_rss_mb': _peak_rss_mb(), 'rss_increase_mb': _peak_rss_mb() - baseline_rss,
                        **backends.peak_device_memory_mb(backend)}
    return report, outputs


def _median_step_time(step: Callable[[int], float], repeat: int) -> float:
    counter = iter(range(10 ** 9))
    return interleaved_medians({'step': lambda: step(next(counter))}, repeat, warmup=3)['step']


def _rss_mb() -> float:
    with open('/proc/self/statm') as file:
        return int(file.read().split()[1]) * resource.getpagesize() / 2 ** 20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def as_numpy(value) -> np.ndarray:
    """The values of a Field or Tensor as a float NumPy array, in the order of its shape."""
    values = value.values if isinstance(value, Field) else value
    return np.asarray(values.numpy(values.shape), dtype=np.float64)


def parity(outputs: Dict[str, Dict[str, np.ndarray]]) -> dict:
    """Largest absolute difference between any two backends, per operator, on identical inputs.

    Args:
        outputs: Backend name → operator name → output array.

    Returns:
        `{'max_abs_diff': float, 'by_operator': {operator: float}, 'pairs': {"a-b": {operator: float}}}`.
    """
    pairs = {}
    for (a, out_a), (b, out_b) in combinations(outputs.items(), 2):
        pairs[f'{a}-{b}'] = {name: float(np.max(np.abs(out_a[name] - out_b[name]))) for name in OPERATORS if name in out_a and name in out_b}
    by_operator = {name: max([p[name] for p in pairs.values() if name in p], default=0.) for name in OPERATORS}
    return {'max_abs_diff': max(by_operator.values(), default=0.), 'by_operator': by_operator, 'pairs': pairs}


def markdown_table(report: Dict[str, dict]) -> str:
    """A markdown table of the median timings (ms) and memory per backend."""
    columns = [(operator, mode) for operator in ('forward', 'inverse', 'train_step') for mode in ('eager', 'jit')]
    header = '| backend | device | ' + ' | '.join(f'{o} {m} [ms]' for o, m in columns) + ' | peak RSS [MB] | final |'
    lines = [header, '|' + '---|' * (len(columns) + 4)]
    for name, entry in report.items():
        times = [_milliseconds(entry['seconds'].get(o, {}).get(m)) for o, m in columns]
        final = ', '.join(f'{k} {v:.4g}' for k, v in entry.get('final', {}).items())
        lines.append(f"| {name} | {entry['device']} | " + ' | '.join(times) + f" | {entry['memory']['peak_rss_mb']:.0f} | {final} |")
    return '\n'.join(lines)


def _milliseconds(seconds: Optional[float]) -> str:
    return '–' if seconds is None else f'{seconds * 1e3:.2f}'


def sip_probe(make_scene: Callable[[bool], 'Scene'], batch_size: int, seed: int, method: str = 'sip', test_size: int = 32):
    """`probe_for(jit)` for a SIP scene: its simulator and inverse update on a sampled batch and a guess `x`.

    The guess is the ground truth of a second sampled batch, or that batch's observation where the scene keeps
    no ground truth (its observations and solutions share one space).

    Args:
        make_scene: `make_scene(jit)` builds the scene with JIT-compiled or eager physics.
        batch_size: Examples per batch.
        seed: Seeds data and network initialisation.
        method: Method of the scene to time and train.
        test_size: Test examples for the final metrics.
    """
    from .methods import start_training
    from .runner import Experiment
    from .scenes.base import data_seed

    def probe_for(jit: bool) -> Probe:
        scene = make_scene(jit)
        own_update = getattr(scene.methods[method].objective, 'update', None)
        update = own_update() if own_update is not None else None

        def inputs():
            guess = scene.sample(batch_size, data_seed(seed, 3))
            return scene.sample(batch_size, data_seed(seed, 2)), guess.y if guess.x is None else guess.x

        def train_step():
            return start_training(scene, scene.methods[method], batch_size, seed, 10 ** 6, jit)[2]

        def train(steps: int) -> Dict[str, float]:
            experiment = Experiment(scene, batch_size, seed, test_size, jit=jit)
            experiment.run(method, scene.methods[method], steps, eval_every=max(steps, 1))
            return experiment.final(method)
        return Probe(inputs,
                     forward=lambda batch, guess: scene.simulator(batch)(guess),
                     inverse=lambda batch, guess: (update or scene.inverse_update(batch))(guess, y_target=batch.y),
                     train_step=train_step, train=train)
    return probe_for


def stochastic_heat_probe(batch_size: int, seed: int, res: int = 32, window: int = 4, test_size: int = 8):
    """`probe_for(jit)` for SMDP on the stochastic heat equation.

    `forward` is the exact deterministic heat step `F⁻¹(exp(−|k|²Δt)·F(x))` (the SDE without its noise), `inverse`
    the reverse simulator `P̃⁻¹(x) = 2x − P(x)`; both on the scene's test states.
    Training steps use the multi-step loss with window `window`; `train` reports the ODE and SDE reconstructions'
    MSE and spectral error.
    """
    from ..physics import stochastic_heat
    from .methods import start_training
    from .scenes.stochastic_heat import StochasticHeatScene

    def probe_for(jit: bool) -> Probe:
        scene = StochasticHeatScene(train_size=max(batch_size, 16), test_size=max(test_size, batch_size), seed=seed,
                                    resolution=res, window=window)
        method = scene.methods['smdp']
        physics = scene.physics()
        t, dt = math.wrap(scene.end_time), math.wrap(scene.dt)

        def inputs():
            return (scene.test_initial[{'examples': slice(0, batch_size)}],)

        def train(steps: int) -> Dict[str, float]:
            net, _, step = start_training(scene, method, batch_size, seed, steps, jit)
            for i in range(steps):
                step(i)
            results = scene.evaluate(net, method, scene.test_set(scene.test_size, seed), batch_size)
            return {f'smdp-{sampler} {key}': value for sampler, values in results.items() for key, value in values.items()}
        return Probe(inputs, forward=lambda x: stochastic_heat.deterministic_step(x, scene.dt), inverse=lambda x: physics(x, t, dt),
                     train_step=lambda: start_training(scene, method, batch_size, seed, 10 ** 6, jit)[2], train=train)
    return probe_for
