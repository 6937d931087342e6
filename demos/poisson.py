"""Poisson's equation: SIP vs Adam vs SGD training of a U-net that inverts `∇²y = x` (SIP paper, Fig. 6a/b).

    python demos/poisson.py                      # CPU-sized: 32x32, batch 32, 500 steps
    python demos/poisson.py --paper              # 64x64, batch 128, 5000 steps
    python demos/poisson.py --backend jax --methods sip,adam --steps 100
"""
import os

from phi_inverse.experiments import plot
from phi_inverse.experiments.demo import argument_parser, parse, run_demo
from phi_inverse.experiments.scenes.poisson import PoissonScene

DEFAULTS = dict(steps=500, batch=32, res=32, eval_every=25, test_size=64)
PAPER = dict(steps=5000, batch=128, res=64, eval_every=100, test_size=128)


def example_figure(experiment, path: str, count: int = 4) -> str:
    test = experiment.test_set
    rows = {'y*': plot.examples(test.y, count), 'x*': plot.examples(test.x, count)}
    for name, prediction in experiment.test_predictions().items():
        rows[f'x̂ {name}'] = plot.examples(prediction, count)
    return plot.image_grid(rows, path, 'Poisson: target y*, ground truth x* and inferred x̂',
                           shared_scale=[[label for label in rows if label != 'y*']])


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=('sip', 'adam', 'sgd'))
    args = parse(parser, argv, 'poisson')
    return run_demo(args, lambda a: PoissonScene(res=a.res),
                    lambda experiment, out: [example_figure(experiment, os.path.join(out, 'examples.png'))])


if __name__ == '__main__':
    main()
