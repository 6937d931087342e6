"""SMDP stochastic heat training step: PhiML compiled vs eager, vs the same step in plain PyTorch / JAX, and the
cost of simulating its data.

    python benchmarks/heat_training.py                        # PyTorch, one thread per operation
    python benchmarks/heat_training.py --backend jax --window 8 --batch 16 --res 32 --repeat 30

The step is one `smdp` update of `StochasticHeatScene` (multi-step loss over a window of S states, Adam with the
scene's learning-rate schedule), built by `update_and_batches`. The plain step (`plain_heat`) computes the same loss
with the same network weights and is compiled the way PhiML compiles on that backend: the loss traced with
`torch.jit.trace` (backward and Adam eager) on PyTorch, the whole update in one `jax.jit` on JAX. Before timing,
both losses are checked to agree. The last row times `scene.windows(S, batch, seed)`, the NumPy simulation of one
step's data, against the compiled step.

Each ratio is measured in one run, alternating the compared calls so that machine load affects both alike.
`rows()` gives this benchmark's rows for `benchmarks/run_all.py`.
"""
import copy
import os
import sys

import numpy as np
from phi import math
from phiml.backend import default_backend

from phi_inverse.support import backends
from phi_inverse.support.jit_update import cosine_decay
from phi_inverse.experiments.methods import update_and_batches
from phi_inverse.experiments.scenes.stochastic_heat import StochasticHeatScene
from phi_inverse.experiments.timing import interleaved_medians

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plain_heat  # noqa: E402
from table import backend_parser, print_table, row, select_backend  # noqa: E402

STEPS = 10 ** 5
"""Length of the run whose learning-rate schedule the steps follow."""


def rows(window: int = 8, batch_size: int = 16, res: int = 32, repeat: int = 20, train_size: int = 2500) -> list:
    """Compiled / eager PhiML step, compiled PhiML / plain step, data simulation / compiled step, on the default backend."""
    scene = StochasticHeatScene(train_size=train_size, test_size=1, resolution=res)
    method = scene.methods['smdp']
    data = [scene.windows(window, batch_size, seed) for seed in range(repeat + 5)]
    updates = {jit: phiml_update(scene, method, batch_size, jit) for jit in ('eager', 'compiled')}
    updates['plain'] = plain_update(scene, method, seed=0)
    check_same_loss(scene, method, data[0])
    counter = {name: 0 for name in updates}

    def timed(name):
        counter[name] = (counter[name] + 1) % len(data)
        return updates[name](*data[counter[name]])
    seeds = iter(range(10 ** 6, 2 * 10 ** 6))
    calls = {name: (lambda n=name: timed(n)) for name in updates}
    calls['windows'] = lambda: scene.windows(window, batch_size, next(seeds))
    times = interleaved_medians(calls, repeat, warmup=5)
    backend = default_backend().name
    plain = {'torch': 'plain traced', 'jax': 'plain jax.jit'}.get(backend, 'plain')
    name = f'heat SMDP S={window} b{batch_size} {res}x{res} {backend}'
    return [row(f'{name}: compiled / eager', times['eager'], times['compiled'], '< 1'),
            row(f'{name}: compiled / {plain}', times['plain'], times['compiled'], '<= 1.3'),
            row(f'{name}: windows() data / compiled step', times['compiled'], times['windows'], 'report')]


def phiml_update(scene, method, batch_size: int, jit: str):
    """The scene's `smdp` update `update(window, times) -> loss`, compiled or eager, on a network seeded with 0."""
    math.seed(0)
    net = method.objective.network(scene)
    update, _ = update_and_batches(scene, method, net, method.make_optimizer(net, STEPS), batch_size, STEPS, jit == 'compiled')
    return update


def plain_update(scene, method, seed: int):
    """The same update in plain PyTorch or JAX, on the weights `phiml_update` initialises with the same seed.

    Returns `update(window, times) -> loss` taking PhiML tensors, whose natives it passes to the plain step.
    """
    math.seed(seed)
    net = method.objective.network(scene)
    schedule = cosine_decay(method.learning_rate, method.final_learning_rate, STEPS)
    if default_backend().name == 'jax':
        update = plain_heat.jax_update(scene, net._apply, net.parameters, schedule)
    else:
        update = plain_heat.torch_update(scene, copy.deepcopy(net), schedule)
    return lambda window, times: math.wrap(update(*natives(window, times)))


def natives(window, times) -> tuple:
    """A window's native `(examples, time, x, y)` values and `(time,)` times."""
    return window.native('examples,time,x,y'), times.native('time')


def plain_loss(scene, net):
    """The plain loss of the scene's correction network `net` on PhiML tensors, as a float."""
    if default_backend().name == 'jax':
        loss = plain_heat.jax_loss(scene, net._apply)
        return lambda window, times: float(loss(net.parameters, *natives(window, times)))
    loss = plain_heat.torch_loss(scene, net)
    return lambda window, times: float(loss(*natives(window, times)).detach())


def check_same_loss(scene, method, batch: tuple, rtol: float = 1e-5):
    """Both steps must compute the same loss on the same weights and batch before their speed is compared."""
    math.seed(0)
    net = method.objective.network(scene)
    phiml_value = float(method.objective.loss(scene, net)(*batch).numpy())
    plain_value = plain_loss(scene, net)(*batch)
    if not np.isclose(phiml_value, plain_value, rtol=rtol, atol=0):
        raise AssertionError(f"The two heat training steps disagree: PhiML loss {phiml_value}, plain loss {plain_value}.")
    return phiml_value, plain_value


def main(argv=None):
    parser = backend_parser(__doc__.splitlines()[0])
    parser.add_argument('--window', type=int, default=8, help='S, states per training window')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--res', type=int, default=32)
    args = parser.parse_args(argv)
    backend = select_backend(args)
    table = rows(args.window, args.batch, args.res, args.repeat)
    print_table(f'Heat SMDP training step on {backend.name} ({backends.describe_device(backend)}), {args.threads} thread(s)', table)
    return table


if __name__ == '__main__':
    main()
