"""JIT-compiled vs eager Poisson SIP training step on every installed ML backend, in one run.

    python benchmarks/jit.py [--res 32] [--batch 32] [--repeat 20]
"""
import argparse

from phi import math

from phi_inverse.support import backends
from phi_inverse.support.checks import TRAINING_BACKENDS
from phi_inverse.experiments.methods import start_training
from phi_inverse.experiments.scenes.poisson import PoissonScene
from phi_inverse.experiments.timing import interleaved_medians
from table import print_table


def rows(res: int = 32, batch_size: int = 32, repeat: int = 20, names=None) -> list:
    table = []
    for name in names or [n for n in backends.installed() if n in TRAINING_BACKENDS]:
        with backends.get(name):
            table.append(_backend_row(name, res, batch_size, repeat))
    return table


def _backend_row(name: str, res: int, batch_size: int, repeat: int) -> dict:
    steps = {}
    for jit in (False, True):
        scene = PoissonScene(res=res, jit=jit)
        steps[jit] = start_training(scene, scene.methods['sip'], batch_size, seed=0, steps=10 ** 6, jit=jit)[2]
    counters = {False: iter(range(10 ** 6)), True: iter(range(10 ** 6))}
    times = interleaved_medians({jit: (lambda j=jit: steps[j](next(counters[j]))) for jit in steps}, repeat, warmup=5)
    return dict(name=f'Poisson SIP step {res}x{res}, batch {batch_size} on {name}: JIT / eager',
                baseline=times[False], value=times[True], ratio=times[True] / times[False], aim='< 1')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--res', type=int, default=32)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=20)
    args = parser.parse_args(argv)
    table = rows(args.res, args.batch, args.repeat)
    print_table('JIT vs eager training steps (CPU)', table)
    return table


if __name__ == '__main__':
    main()
