"""Poisson benchmarks: spectral vs CG forward solve, and the cost of a SIP training step vs an Adam step.

    python benchmarks/poisson.py                     # PyTorch, PhiFlow's default device
    python benchmarks/poisson.py --backend jax --repeat 50

Both ratios are measured in one run, alternating the compared calls so that machine load affects both alike.
"""
import argparse

from phi import math
from phi.field import CenteredGrid, Noise
from phi.math import Solve, batch, extrapolation

from phi_inverse.support import backends
from phi_inverse.physics import poisson
from phi_inverse.experiments.scenes.poisson import PoissonScene
from phi_inverse.experiments.timing import interleaved_medians
from table import print_table, training_step_row


def solver_rows(res: int, size: int, repeat: int) -> list:
    math.seed(0)
    x = CenteredGrid(Noise(batch(batch=size), scale=10), extrapolation.ZERO, x=res, y=res)
    cg = Solve('CG', rel_tol=1e-5, abs_tol=1e-5, max_iterations=10_000)
    times = interleaved_medians({'spectral': lambda: poisson.spectral(x), 'cg': lambda: poisson.iterative(x, cg)}, repeat)
    return [dict(name=f'Poisson solve {res}x{res}, batch {size}: CG / spectral', baseline=times['spectral'],
                 value=times['cg'], ratio=times['cg'] / times['spectral'], aim='>= 50')]


def training_rows(res: int, size: int, repeat: int) -> list:
    return [training_step_row(PoissonScene(res=res), size, repeat, f'Poisson training step {res}x{res}, batch {size}: SIP / Adam', '<= 1.1')]


def rows(args) -> list:
    return solver_rows(args.res, args.batch, args.repeat) + training_rows(args.train_res, args.train_batch, args.repeat)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', default='torch', choices=backends.FLOW_MODULES)
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    parser.add_argument('--res', type=int, default=64, help='solver benchmark resolution')
    parser.add_argument('--batch', type=int, default=128, help='solver benchmark batch size')
    parser.add_argument('--train-res', type=int, default=32)
    parser.add_argument('--train-batch', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=20)
    args = parser.parse_args(argv)
    backend = backends.select(args.backend, args.device)
    table = solver_rows(args.res, args.batch, args.repeat)
    if args.backend != 'numpy':
        table += training_rows(args.train_res, args.train_batch, args.repeat)
    print_table(f'Poisson benchmarks on {backend.name} ({backends.describe_device(backend)})', table)
    return table


if __name__ == '__main__':
    main()
