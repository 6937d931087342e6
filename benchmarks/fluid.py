"""Navier–Stokes benchmarks: one simulation step eager vs JIT-compiled on PyTorch and JAX, and SIP vs Adam training steps.

    python benchmarks/fluid.py                          # step at 64x64, batch 64, on torch and jax
    python benchmarks/fluid.py --backends torch --repeat 5 --train-steps 0

Every ratio is measured in one run, alternating the compared calls so that machine load affects both alike.
The compiled step is the one `navier_stokes.MarkerFlow` uses (`jit.jit_on_fields`); the eager step calls the same
PhiFlow operators without compilation.
"""
import argparse

from phi_inverse.support import backends
from phi_inverse.physics import navier_stokes as ns
from phi_inverse.experiments.scenes.fluid import FluidScene
from phi_inverse.experiments.timing import interleaved_medians
from table import print_table, training_step_row


def step_rows(backend: str, res: int, size: int, repeat: int) -> list:
    """Median time of one step (advection, projection, renormalisation, marker transport), eager and compiled."""
    with backends.get(backend):
        scene = FluidScene(res=res)
        batch_data = scene.sample(size, seed=0)
        velocity, _ = ns.staggered(batch_data.x)
        marker, pressure = batch_data.condition, batch_data.condition * 0
        flow = scene.flow
        times = interleaved_medians({'eager': lambda: ns.step(marker, velocity, pressure, flow.dt, flow.solve),
                                     'jit': lambda: flow.step(marker, velocity, pressure)}, repeat, warmup=1)
    return [dict(name=f'NS step {res}x{res}, batch {size}, {backend}: eager / jit', baseline=times['jit'], value=times['eager'],
                 ratio=times['eager'] / times['jit'], aim='> 1')]


def rows(res: int, size: int, repeat: int, names=('torch', 'jax')) -> list:
    """The step rows on every installed backend of `names`, for `benchmarks/run_all.py`."""
    return [row for name in names if name in backends.installed() for row in step_rows(name, res, size, repeat)]


def training_rows(res: int, size: int, repeat: int) -> list:
    """Median time of a SIP and an Adam training step (data, physics, update, optimizer), alternating."""
    return [training_step_row(FluidScene(res=res), size, repeat, f'Fluid training step {res}x{res}, batch {size}: SIP / Adam',
                              '<= 1.1 (paper)', warmup=2)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backends', default='torch,jax', help='comma-separated backends for the step benchmark')
    parser.add_argument('--res', type=int, default=64, help='step benchmark resolution')
    parser.add_argument('--batch', type=int, default=64, help='step benchmark batch size')
    parser.add_argument('--repeat', type=int, default=5, help='timed calls of each compared function')
    parser.add_argument('--train-res', type=int, default=32)
    parser.add_argument('--train-batch', type=int, default=8)
    parser.add_argument('--train-steps', type=int, default=5, help='timed training steps per method (0 to skip)')
    args = parser.parse_args(argv)
    table = rows(args.res, args.batch, args.repeat, [b.strip() for b in args.backends.split(',') if b.strip()])
    if args.train_steps:
        backends.select('torch')
        table += training_rows(args.train_res, args.train_batch, args.train_steps)
    print_table('Navier-Stokes benchmarks (CPU unless a GPU is selected by PhiFlow)', table)
    return table


if __name__ == '__main__':
    main()
