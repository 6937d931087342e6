"""Sine 2D: SIP (saddle-free Newton) vs Adam, SGD, Adadelta, Adagrad, RMSprop on P(x) = (sin(x̂₁/ξ), ξx̂₂), x̂ = γR_φx
(SIP paper, section 3.4, Fig. 5).

    python demos/sine_characterization.py                        # ξ = 32, φ = 45°, 20 s of training per method
    python demos/sine_characterization.py --xi 1 --phi 0         # well conditioned, uncoupled
    python demos/sine_characterization.py --equal steps --steps 3000
    python demos/sine_characterization.py --sweep                # Fig. 5d/e: x_dist against ξ (φ = 0) and φ (ξ = 32)
    python demos/sine_characterization.py --paper                # 10 minutes per method, as in the paper

Methods are compared at equal training wall time by default (`--equal time`), as in the paper, or at an equal
number of steps (`--equal steps`). The metric `x_dist` is the distance of the prediction to the nearest exact
solution divided by ξ, on a fixed test set; the sweep averages the last 10 % of each learning curve.
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')  # a network this small runs fastest on one thread per process

import json

import numpy as np

from phi_inverse.support import backends
from phi_inverse.experiments import plot
from phi_inverse.experiments.demo import argument_parser, parse, run_demo, select_methods
from phi_inverse.experiments.runner import Experiment
from phi_inverse.experiments.scenes.sine2d import Sine2DScene

METHODS = ('sip', 'adam', 'sgd', 'adadelta', 'adagrad', 'rmsprop')
DEFAULTS = dict(steps=3000, batch=100, eval_every=100, test_size=1000, time_budget=20., sweep_budget=4.,
                xi_values=(1, 3, 10, 32, 100), phi_values=(0, 15, 30, 45))
PAPER = dict(steps=50000, batch=100, eval_every=1000, test_size=1000, time_budget=600., sweep_budget=600.,
             xi_values=(1, 2, 4, 8, 16, 32, 64, 100), phi_values=(0, 5, 10, 15, 20, 25, 30, 35, 40, 45))
UNLIMITED_STEPS = 10 ** 9


def make_parser():
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, METHODS)
    parser.add_argument('--xi', type=float, default=32., help='conditioning ξ')
    parser.add_argument('--phi', type=float, default=45., help='coupling angle φ in degrees')
    parser.add_argument('--equal', choices=('time', 'steps'), default='time',
                        help='compare methods at equal training wall time (--time-budget) or equal steps (--steps)')
    parser.add_argument('--time-budget', type=float, help=f"seconds of training per method with --equal time (default {DEFAULTS['time_budget']})")
    parser.add_argument('--sweep', action='store_true', help='sweep ξ (φ = 0) and φ (ξ = 32) and draw Fig. 5d/e')
    parser.add_argument('--sweep-budget', type=float, help=f"seconds per method and sweep point (default {DEFAULTS['sweep_budget']})")
    parser.add_argument('--sweep-xi', dest='xi_values', type=numbers, help=f"ξ values of the sweep (default {DEFAULTS['xi_values']})")
    parser.add_argument('--sweep-phi', dest='phi_values', type=numbers, help=f"φ values of the sweep (default {DEFAULTS['phi_values']})")
    return parser


def numbers(text: str) -> tuple:
    return tuple(float(value) for value in text.split(','))


def run(args):
    budget = args.sweep_budget if args.sweep else args.time_budget
    args.time_budget = budget if args.equal == 'time' else None
    if args.equal == 'time':
        args.steps = UNLIMITED_STEPS
    return sweep(args) if args.sweep else run_demo(args, scene_of, lambda e, out: [error_map(e, os.path.join(out, 'examples.png'))],
                                                    metric='x_dist', summary_keys=('x_dist', 'y_loss'))


def scene_of(args, xi=None, phi=None):
    return Sine2DScene(xi=args.xi if xi is None else xi, phi=args.phi if phi is None else phi)


def error_map(experiment: Experiment, path: str) -> str:
    """x_dist of every test example over the target plane, one panel per method: where each method fails."""
    y = experiment.test_set.y.numpy('batch,vector')
    names = list(experiment.networks)
    fig, axes = plot.subplots(1, len(names), figsize=(3.2 * len(names) + 1, 3.2), squeeze=False)
    for axis, name in zip(axes[0], names):
        prediction = experiment.scene.predict(experiment.networks[name], experiment.test_set)
        x_dist = experiment.scene.metrics(prediction, experiment.test_set)['x_dist'].numpy('batch')
        image = axis.scatter(y[:, 0], y[:, 1], c=np.log10(x_dist), s=6, cmap='magma', vmin=-4, vmax=0)
        axis.set_title(f"{name}: mean {x_dist.mean():.2g}")
        axis.set_xlabel('y₁*')
        axis.set_aspect('equal')
    axes[0, 0].set_ylabel('y₂*')
    fig.colorbar(image, ax=axes[0].tolist(), label='log₁₀ x_dist')
    fig.suptitle(f"Distance to the nearest solution / ξ on the test set (ξ = {experiment.scene.xi:g}, φ = {experiment.scene.phi:g}°)")
    fig.savefig(path, dpi=110)
    return path


def sweep(args) -> dict:
    """Trains every method at each ξ (φ = 0) and each φ (ξ = 32); records the mean of the last 10 % of the curve."""
    backend = backends.select(args.backend, args.device)
    methods = select_methods(scene_of(args).methods, args.methods, args.lr)
    axes = {'xi': [(xi, 0.) for xi in args.xi_values], 'phi': [(32., phi) for phi in args.phi_values]}
    metrics = {'scene': 'sine2d-sweep', 'backend': backend.name, 'device': backends.describe_device(backend),
               'config': {'batch': args.batch, 'seed': args.seed, 'test_size': args.test_size, 'equal': args.equal,
                          'time_budget': args.time_budget, 'steps': args.steps, 'methods': list(methods), 'paper': args.paper},
               'methods': {name: {'xi_sweep': {'xi': [], 'x_dist': []}, 'phi_sweep': {'phi': [], 'x_dist': []}, 'steps': []}
                           for name in methods}, 'figures': []}
    print(f"sine2d sweep: {', '.join(methods)} on {backend.name}, {len(axes['xi']) + len(axes['phi'])} points, "
          f"{args.time_budget or args.steps} {'s' if args.time_budget else 'steps'} each; writing to {args.out}")
    for axis, points in axes.items():
        for xi, phi in points:
            experiment = Experiment(scene_of(args, xi, phi), args.batch, args.seed, args.test_size)
            for name, method in methods.items():
                result = experiment.run(name, method, args.steps, args.eval_every, time_budget=args.time_budget)
                entry = metrics['methods'][name]
                entry[f'{axis}_sweep'][axis].append(xi if axis == 'xi' else phi)
                curve = experiment.metrics['methods'][name]['curve']['x_dist'] if result else None
                entry[f'{axis}_sweep']['x_dist'].append(late_mean(curve) if result else float('nan'))
                entry['steps'].append(result.steps_done if result else 0)
            print(f"  ξ = {xi:g}, φ = {phi:g}°: " + ', '.join(f"{n} {metrics['methods'][n][f'{axis}_sweep']['x_dist'][-1]:.3g}" for n in methods))
    os.makedirs(args.out, exist_ok=True)
    metrics['figures'] = [os.path.basename(sweep_figure(metrics, os.path.join(args.out, 'sweep.png')))]
    with open(os.path.join(args.out, 'metrics.json'), 'w') as file:
        json.dump(metrics, file, indent=1)
    return metrics


def late_mean(curve, fraction=.1) -> float:
    """Mean of the last `fraction` of a learning curve (at least its last point), as in the paper's Fig. 5d/e."""
    count = max(1, int(round(len(curve) * fraction)))
    return float(np.mean(curve[-count:]))


def sweep_figure(metrics: dict, path: str) -> str:
    fig, (by_xi, by_phi) = plot.subplots(1, 2, figsize=(11, 4), sharey=True)
    for name, entry in metrics['methods'].items():
        diverged = [f'ξ = {xi:g}' for xi, d in zip(entry['xi_sweep']['xi'], entry['xi_sweep']['x_dist']) if not np.isfinite(d)]
        diverged += [f'φ = {phi:g}°' for phi, d in zip(entry['phi_sweep']['phi'], entry['phi_sweep']['x_dist']) if not np.isfinite(d)]
        label = name + (f" (diverged at {', '.join(diverged)})" if diverged else '')
        by_xi.plot(entry['xi_sweep']['xi'], entry['xi_sweep']['x_dist'], 'o-', label=label)
        by_phi.plot(entry['phi_sweep']['phi'], entry['phi_sweep']['x_dist'], 'o-', label=label)
    by_xi.set_xscale('log')
    by_xi.set_xlabel('conditioning ξ (φ = 0)')
    by_phi.set_xlabel('coupling φ [°] (ξ = 32)')
    by_xi.set_ylabel('x_dist = ‖x̂ − x*‖ / ξ')
    for axis in (by_xi, by_phi):
        axis.set_yscale('log')
        axis.grid(True, which='both', alpha=.3)
    by_phi.legend(loc='center right', fontsize=9)
    budget = metrics['config']['time_budget']
    fig.suptitle(f"sine 2D ({metrics['backend']}, {metrics['device']}): "
                 + (f"{budget:g} s of training per point" if budget else f"{metrics['config']['steps']} steps per point"))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main(argv=None):
    return run(parse(make_parser(), argv, 'sine_characterization'))


if __name__ == '__main__':
    main()
