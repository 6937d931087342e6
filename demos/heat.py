"""Heat equation: SIP vs Adam vs SGD training of a U-net that undoes diffusion, and iterative solvers (SIP paper, B.3).

    python demos/heat.py                     # CPU-sized: 32x32, batch 32, 500 steps; GD and L-BFGS-B, 100 iterations
    python demos/heat.py --paper             # 64x64, batch 128, 10k steps; solvers 1000 iterations on 128 examples
    python demos/heat.py --backend jax --methods sip,adam --steps 100 --iterations 0

The physical problem is always the paper's: a periodic domain of 64x64 length units, 4–10 hot rectangles with
half-sizes up to 10 units, diffused by `ν t = 8`. `--res` only sets the grid. The CPU default, 32x32 cells of
size 2, keeps what the problem is about: the damped inverse can only recover frequencies with
`ℓ_k = ν t (2π|k|)² < ln(δ/(ε·rms(y* − y)))`, i.e. |k| < 0.24 cycles per unit for residuals of 1 %, and the 32x32
grid resolves up to 0.25 per axis. The frequencies it drops (ℓ_k from 20 to 158 on the 64x64 grid) are lost to
diffusion beyond recovery anyway, while the U-net costs 4x less. Batch 32 instead of 128 and 500 steps finish in a
few minutes.

After training, gradient descent and L-BFGS-B (PhiML's `math.minimize`) solve the first `--solver-examples` test
examples one by one from `x = 0`; their error and wall time per example are reported next to the networks'
(`metrics.json` section `iterative`, figure `iterative.png`).
"""
import os

from phi_inverse.experiments import iterative, plot
from phi_inverse.experiments.demo import argument_parser, parse, run_demo
from phi_inverse.experiments.scenes.heat import HeatScene

DEFAULTS = dict(steps=500, batch=32, res=32, eval_every=25, test_size=64, iterations=100, solver_examples=4)
PAPER = dict(steps=10_000, batch=128, res=64, eval_every=100, test_size=128, iterations=1000, solver_examples=128)


def example_figure(experiment, solutions: dict, path: str, count: int) -> str:
    test = experiment.test_set
    rows = {'y*': plot.examples(test.y, count), 'x*': plot.examples(test.x, count)}
    for name, prediction in experiment.test_predictions().items():
        rows[f'x̂ {name}'] = plot.examples(prediction, count)
    for name, x in solutions.items():
        rows[f'x {name}'] = plot.examples(x, count)
    return plot.image_grid(rows, path, 'Heat: y*, x*, networks x̂, iterative solvers x',
                           shared_scale=[[label for label in rows if label != 'y*']])


def compare_with_solvers(experiment, args) -> dict:
    """Runs the iterative solvers, adds the `iterative` section to `metrics.json`, draws `iterative.png`."""
    section, solutions = iterative.compare(experiment.scene, experiment.networks, experiment.test_set, args.solver_examples,
                                           {name: args.iterations for name in iterative.SOLVERS}, args.batch)
    experiment.metrics['iterative'] = section
    references = {f'NN {name} ({entry["seconds_per_example"] * 1e3:.2g} ms/example)': entry['x_mae']
                  for name, entry in section['networks'].items()}
    curves = {f'{name} ({entry["seconds_per_example"]:.2g} s/example)': entry['curve']['x_mae']
              for name, entry in section['solvers'].items()}
    figure = plot.iteration_curves(curves, references, os.path.join(args.out, 'iterative.png'),
                                   f'Heat: {section["examples"]} test examples solved one by one')
    experiment.metrics['figures'].append(os.path.basename(figure))
    print(summary(section))
    return solutions


def summary(section: dict) -> str:
    lines = [f"{'per example':14s}{'x_mae':>10s}{'seconds':>12s}   ({section['examples']} test examples)"]
    for name, entry in section['networks'].items():
        lines.append(f"{'NN ' + name:14s}{entry['x_mae']:10.4g}{entry['seconds_per_example']:12.3g}")
    for name, entry in section['solvers'].items():
        lines.append(f"{name + ' x' + str(entry['iterations']):14s}{entry['x_mae']:10.4g}{entry['seconds_per_example']:12.3g}")
    return '\n'.join(lines)


def make_parser():
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=('sip', 'adam', 'sgd'))
    parser.add_argument('--iterations', type=int, help=f"iterations of each iterative solver, 0 to skip them "
                                                       f"(default {DEFAULTS['iterations']})")
    parser.add_argument('--solver-examples', type=int, help=f"test examples the solvers run on (default {DEFAULTS['solver_examples']})")
    return parser


def main(argv=None):
    args = parse(make_parser(), argv, 'heat')
    experiment = run_demo(args, lambda a: HeatScene(res=a.res))
    solutions = compare_with_solvers(experiment, args) if args.iterations > 0 and args.solver_examples > 0 else {}
    figure = example_figure(experiment, solutions, os.path.join(args.out, 'examples.png'), min(4, args.solver_examples or 4))
    experiment.metrics['figures'].append(os.path.basename(figure))
    experiment.save()
    return experiment


if __name__ == '__main__':
    main()
