"""SIP in a simulation the package does not ship: the generic Gauss–Newton–Krylov update vs Adam.

    python demos/own_simulation.py                                   # advection–diffusion, 24x24, batch 8, 200 steps
    python demos/own_simulation.py --simulation burgers              # viscous Burgers (nonlinear)
    python demos/own_simulation.py --iterations 8 --no-preconditioned --steps 100

The simulations are written with PhiFlow's operators only (`advect.semi_lagrangian`, `diffuse.explicit`); SIP
uses `updates.gauss_newton_krylov`, which differentiates them automatically (see
`phi_inverse/experiments/scenes/own_simulation.py` for the physics and the data). Both methods train the same
U-net with Adam on the same batches and are evaluated on the same test set.
"""
import os

from phi_inverse.experiments import plot
from phi_inverse.experiments.demo import argument_parser, parse, run_demo
from phi_inverse.experiments.scenes.own_simulation import SIMULATIONS, OwnSimulationScene

DEFAULTS = dict(steps=200, batch=8, res=24, eval_every=20, test_size=64)
PAPER = DEFAULTS  # no paper configuration: the SIP paper does not treat these simulations


def example_figure(experiment, path: str, count: int = 4) -> str:
    test = experiment.test_set
    component = (lambda f: f) if experiment.scene.channels == 1 else (lambda f: f.vector['x'])
    rows = {'y*': plot.examples(component(test.y), count), 'x*': plot.examples(component(test.x), count)}
    for name, prediction in experiment.test_predictions().items():
        rows[f'x̂ {name}'] = plot.examples(component(prediction), count)
    what = 'concentration' if experiment.scene.channels == 1 else 'velocity u_x'
    return plot.image_grid(rows, path, f'{experiment.scene.name} ({what}): target y*, ground truth x*, inferred x̂',
                           shared_scale=[[label for label in rows if label != 'y*']])


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=('sip', 'adam'))
    parser.add_argument('--simulation', choices=SIMULATIONS, default='advection_diffusion', help='the simulation P')
    parser.add_argument('--iterations', type=int, default=None, help='Krylov iterations per SIP update (scene default if unset)')
    parser.add_argument('--damping', type=float, default=None, help='relative Levenberg damping (scene default if unset)')
    parser.add_argument('--preconditioned', action='store_true', default=None, help='precondition by the inverse diffusion')
    parser.add_argument('--no-preconditioned', dest='preconditioned', action='store_false')
    args = parse(parser, argv, 'own_simulation')
    if args.out == 'results/own_simulation':
        args.out = f'results/own_simulation-{args.simulation}'

    def make_scene(a):
        settings = {key: getattr(a, key) for key in ('iterations', 'damping', 'preconditioned') if getattr(a, key) is not None}
        return OwnSimulationScene.for_simulation(a.simulation, res=a.res, **settings)
    return run_demo(args, make_scene, lambda experiment, out: [example_figure(experiment, os.path.join(out, 'examples.png'))])


if __name__ == '__main__':
    main()
