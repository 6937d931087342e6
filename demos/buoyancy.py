"""Buoyancy-driven flow with obstacles: SMDP ODE/SDE vs reverse physics alone, s_θ alone and L-BFGS, reconstructing
the state at t = 0.35 from the state at t = 0.65 (SMDP paper, section 4.3, Fig. 5, appendix E).

    python demos/buoyancy.py            # CPU-sized: 32×32 cells, 250 training simulations, S_max = 4, 600 steps
    python demos/buoyancy.py --paper    # 64×64 cells, 250 training / 5 test simulations, S_max = 20 (GPU)
"""
import os

import numpy as np

from phi_inverse.experiments import plot
from phi_inverse.experiments.demo import argument_parser, parse, positive_int, run_demo
from phi_inverse.experiments.scenes.buoyancy import BASELINES, BuoyancyScene
from phi_inverse.physics import TIME

NOISE = dict(noise=BuoyancyScene.noise, diffusion=BuoyancyScene.diffusion)
DEFAULTS = dict(steps=600, batch=8, res=32, eval_every=100, test_size=5, train_size=250, window=4, lbfgs_iterations=1,
                **NOISE)
PAPER = dict(steps=20000, batch=16, res=64, eval_every=2000, test_size=5, train_size=250, window=20, lbfgs_iterations=40,
             **NOISE)
METHODS = ('smdp-ode', 'smdp-sde', 's-only-ode', 's-only-sde')
FRAMES = (0, 10, 20, 30)


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=METHODS)
    parser.add_argument('--window', type=positive_int, help=f"S_max of the multi-step loss (default {DEFAULTS['window']})")
    parser.add_argument('--train-size', type=positive_int, help=f"training simulations (default {DEFAULTS['train_size']})")
    parser.add_argument('--lbfgs-iterations', type=int, help=f"L-BFGS iterations (default {DEFAULTS['lbfgs_iterations']})")
    parser.add_argument('--noise', type=float, help=f"σ of the training noise (default {DEFAULTS['noise']:g})")
    parser.add_argument('--diffusion', type=float, help=f"g of the reverse SDE (default {DEFAULTS['diffusion']:g})")
    parser.add_argument('--baselines', default=','.join(BASELINES), help='comma-separated untrained baselines to evaluate')
    args = parse(parser, argv, 'buoyancy')
    baselines = [b.strip() for b in args.baselines.split(',') if b.strip()]

    def make_scene(a):
        return BuoyancyScene(train_size=a.train_size, test_size=a.test_size, seed=a.seed, resolution=a.res, window=a.window,
                             noise=a.noise, diffusion=a.diffusion, lbfgs_iterations=a.lbfgs_iterations)
    reconstructions = {}

    def figures(experiment, out):
        for name in baselines:
            values, reconstruction = experiment.scene.evaluate_baseline(name)
            experiment.metrics['methods'].setdefault(name, {}).update({'model': None, 'method': {'objective': None, 'baseline': name}})
            experiment.record_final(name, values)
            reconstructions[name] = reconstruction
        return draw_figures(experiment, out)
    return run_demo(args, make_scene, figures, metric='mse', summary_keys=('mse', 'mse_state', 'spectral_error', 'ssim'))


def draw_figures(experiment, out) -> list:
    """Marker and v_x of the first test simulation over t = 0.35 … 0.65 for the ground truth, reverse-only and each
    trained entry (paper Fig. 5a/b, 15–17)."""
    scene = experiment.scene
    truth, _ = scene.test_set(scene.test_size, scene.seed)
    trajectories = {'ground truth': truth, 'reverse-only': scene.reconstruct(None, None, None, trajectory=True)}
    for name, net in experiment.networks.items():
        method = scene.methods[name]
        for sampler in method.variants:
            trajectories[f'{name}-{sampler}'] = scene.reconstruct(net, method, sampler, trajectory=True)
    paths = []
    for quantity in ('smoke', 'velocity_x'):
        rows = {label: [_frame(state, quantity, f) for f in FRAMES] for label, state in trajectories.items()}
        paths.append(plot.image_grid(rows, os.path.join(out, f'{quantity}.png'),
                                     f'Buoyancy flow: {quantity} at t = ' + ', '.join(f'{0.35 + 0.01 * f:.2f}' for f in FRAMES),
                                     shared_scale=[list(rows)]))
    return paths


def _frame(trajectory, quantity: str, frame: int) -> np.ndarray:
    state = trajectory[{TIME: frame, 'examples': 0}]
    if quantity == 'smoke':
        return state.smoke.values.numpy('x,y')
    return state.velocity.at_centers().values.vector['x'].numpy('x,y')


if __name__ == '__main__':
    main()
