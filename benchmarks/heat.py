"""Heat benchmarks: damped inverse vs forward diffusion, network inference vs L-BFGS-B, SIP step vs Adam step.

    python benchmarks/heat.py                        # PyTorch, PhiFlow's default device
    python benchmarks/heat.py --lbfgs-iterations 100 --examples 4

Every ratio is measured in one run, alternating the compared calls so that machine load affects both alike.
"""
import argparse
import time

import numpy as np
from phi import math

from phi_inverse.support import backends
from phi_inverse.experiments import iterative
from phi_inverse.support.jit import jit_on_grid
from phi_inverse.physics import heat
from phi_inverse.experiments.scenes.sip_scene import split
from phi_inverse.experiments.scenes.heat import AMOUNT, HeatScene
from phi_inverse.experiments.timing import interleaved_medians, wait_for
from table import print_table, training_step_row


def inverse_rows(res: int, size: int, repeat: int) -> list:
    """The damped inverse of a residual vs the forward diffusion of a state, both compiled as in training."""
    scene = HeatScene(res=res)
    examples = scene.sample(size, seed=0)
    residual = examples.y - scene.forward(examples.x * .9)
    forward = jit_on_grid(lambda x: heat.forward(x, AMOUNT), scene.grid)
    inverse = jit_on_grid(lambda r: heat.damped_inverse(r, AMOUNT), scene.grid)
    times = interleaved_medians({'forward': lambda: forward(examples.x), 'inverse': lambda: inverse(residual)}, repeat)
    return [dict(name=f'Heat {res}x{res}, batch {size}: damped inverse / forward', baseline=times['forward'],
                 value=times['inverse'], ratio=times['inverse'] / times['forward'], aim='<= 2')]


def inference_rows(res: int, size: int, iterations: int, examples: int) -> list:
    """Seconds per example: L-BFGS-B on single examples vs a U-net predicting `size` examples in one call."""
    scene = HeatScene(res=res)
    math.seed(0)
    net = scene.network()
    test = scene.sample(size, seed=0)
    singles = list(split(test, 1))[:examples]

    def predict():
        return scene.predict(net, test)

    def lbfgs(example, count=iterations):
        return iterative.solve_examples(scene, example, 'L-BFGS-B', count).x
    wait_for(predict()), wait_for(lbfgs(singles[0], 3))  # warm up: JIT traces, SciPy
    network_times, solver_times = [], []
    for example in singles:
        network_times.append(_seconds(predict) / size)
        solver_times.append(_seconds(lambda: lbfgs(example)))
    network, solver = float(np.median(network_times)), float(np.median(solver_times))
    return [dict(name=f'Heat {res}x{res}: L-BFGS-B ({iterations} it.) / U-net (batch {size}), per example',
                 baseline=network, value=solver, ratio=solver / network, aim='~1000 (paper)')]


def _seconds(function) -> float:
    start = time.perf_counter()
    wait_for(function())
    return time.perf_counter() - start


def training_rows(res: int, size: int, repeat: int) -> list:
    return [training_step_row(HeatScene(res=res), size, repeat, f'Heat training step {res}x{res}, batch {size}: SIP / Adam', '<= 1.1')]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', default='torch', choices=[b for b in backends.FLOW_MODULES if b != 'numpy'])
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    parser.add_argument('--res', type=int, default=64, help='resolution of the physics and inference benchmarks')
    parser.add_argument('--batch', type=int, default=128, help='batch of the physics and inference benchmarks')
    parser.add_argument('--lbfgs-iterations', type=int, default=1000, help='L-BFGS-B iterations per example (paper: 1000)')
    parser.add_argument('--examples', type=int, default=2, help='examples solved by L-BFGS-B')
    parser.add_argument('--train-res', type=int, default=32)
    parser.add_argument('--train-batch', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=20)
    args = parser.parse_args(argv)
    backend = backends.select(args.backend, args.device)
    table = inverse_rows(args.res, args.batch, args.repeat)
    table += training_rows(args.train_res, args.train_batch, args.repeat)
    table += inference_rows(args.res, args.batch, args.lbfgs_iterations, args.examples)
    print_table(f'Heat benchmarks on {backend.name} ({backends.describe_device(backend)})', table)
    return table


if __name__ == '__main__':
    main()
