"""Poisson benchmarks: spectral vs CG forward solve, and the cost of a SIP training step vs an Adam step.

    python benchmarks/poisson.py                     # PyTorch, PhiFlow's default device
    python benchmarks/poisson.py --backend jax --repeat 50

Both ratios are measured in one run, alternating the compared calls so that machine load affects both alike.
"""
import argparse

from phi import math
from phi.field import CenteredGrid, Noise
from phi.math import Solve, batch, extrapolation
from phiml import nn

from phi_inverse import backends
from phi_inverse.physics import poisson
from phi_inverse.scenes.base import make_step
from phi_inverse.scenes.poisson import PoissonScene
from phi_inverse.timing import interleaved_medians
from table import print_table


def solver_rows(res: int, size: int, repeat: int) -> list:
    math.seed(0)
    x = CenteredGrid(Noise(batch(batch=size), scale=10), extrapolation.ZERO, x=res, y=res)
    cg = Solve('CG', rel_tol=1e-5, abs_tol=1e-5, max_iterations=10_000)
    times = interleaved_medians({'spectral': lambda: poisson.spectral(x), 'cg': lambda: poisson.iterative(x, cg)}, repeat)
    return [dict(name=f'Poisson solve {res}x{res}, batch {size}: CG / spectral', baseline=times['spectral'],
                 value=times['cg'], ratio=times['cg'] / times['spectral'], aim='>= 50')]


def training_rows(res: int, size: int, repeat: int) -> list:
    scene = PoissonScene(res=res)
    steps = {}
    for name in ('sip', 'adam'):
        math.seed(0)
        net = scene.network()
        steps[name] = make_step(scene, scene.methods[name], net, nn.adam(net), size, seed=0)
    counter = {'sip': 0, 'adam': 0}

    def timed(name):
        counter[name] += 1
        return steps[name](counter[name])
    times = interleaved_medians({name: (lambda n=name: timed(n)) for name in steps}, repeat, warmup=5)
    return [dict(name=f'Poisson training step {res}x{res}, batch {size}: SIP / Adam', baseline=times['adam'],
                 value=times['sip'], ratio=times['sip'] / times['adam'], aim='<= 1.1')]


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
