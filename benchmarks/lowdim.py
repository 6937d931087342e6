"""Low-dimensional SIP benchmarks: the compiled saddle-free Newton update, and a sine-2D SIP training step vs Adam.

    python benchmarks/lowdim.py                      # PyTorch, PhiFlow's default device
    python benchmarks/lowdim.py --backend jax --repeat 50

Ratios are measured in one run, alternating the compared calls so that machine load affects both alike. The
paper reports SIP iterations on the sine problem taking about 3x as long as Adam's (section 3.4).
"""
import argparse
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')  # as in the demos: tiny networks run fastest on one thread


from phi_inverse.support import backends
from phi_inverse import updates
from phi_inverse.experiments.scenes.sine2d import Sine2DScene
from phi_inverse.experiments.timing import interleaved_medians
from table import print_table, training_step_row


def update_rows(size: int, repeat: int) -> list:
    """Eager vs JIT-compiled saddle-free Newton update (gradient, per-example Hessian, eigenbasis) on `size` examples."""
    scene = Sine2DScene()
    x, y_target = scene.sample(size, seed=1).y * .01, scene.sample(size, seed=2).y
    eager = updates.saddle_free_newton(scene.forward, .2)
    compiled = updates.compiled(eager)
    times = interleaved_medians({'eager': lambda: eager(x, y_target=y_target), 'compiled': lambda: compiled(x, y_target=y_target)}, repeat)
    return [dict(name=f'Saddle-free Newton update, batch {size}: eager / compiled', baseline=times['compiled'],
                 value=times['eager'], ratio=times['eager'] / times['compiled'], aim='> 1')]


def training_rows(size: int, repeat: int) -> list:
    """One training step of the sine-2D scene (ξ = 32, φ = 45°): SIP (compiled update) vs Adam through the physics."""
    return [training_step_row(Sine2DScene(), size, repeat, f'Sine 2D training step, batch {size}: SIP / Adam', '<= 3 (paper)')]


def rows(args) -> list:
    return update_rows(args.batch, args.repeat) + training_rows(args.batch, args.repeat)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', default='torch', choices=('torch', 'tensorflow', 'jax'))
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    parser.add_argument('--batch', type=int, default=100)
    parser.add_argument('--repeat', type=int, default=50)
    args = parser.parse_args(argv)
    backend = backends.select(args.backend, args.device)
    table = rows(args)
    print_table(f'Low-dimensional SIP benchmarks on {backend.name} ({backends.describe_device(backend)})', table)
    return table


if __name__ == '__main__':
    main()
