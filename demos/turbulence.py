"""Forced 2-D turbulence: SMDP with a learned reverse surrogate vs the surrogate alone vs simultaneous training
(SMDP paper, section 4.4, Fig. 6, 20, 21).

    python demos/turbulence.py              # CPU-sized: 32×32, 200 training / 20 test trajectories (≤ 60 min, 1 thread)
    python demos/turbulence.py --paper      # 64×64, 1000 training trajectories, the paper's FNO and S_max = 10
    python demos/turbulence.py --backend jax --methods surrogate-only,smdp-ode
    python demos/turbulence.py --validation --diffusion 0.02 --out results/turbulence-g0.02   # choose g on validation data

The surrogate `P̃⁻¹` (method `surrogate-only`) is trained first; `smdp` trains `s_θ` on top of it, frozen, so it
is trained after `surrogate-only`, which is moved (or added) to the front of `--methods`. Data are simulated once
and cached (`$PHI_INVERSE_CACHE`, default `~/.cache/phi_inverse`).
"""
import os

import numpy as np
from phi import math

from phi_inverse.experiments import plot
from phi_inverse.experiments import smdp_figures as figures
from phi_inverse.experiments.demo import argument_parser, parse, positive_int, run_demo
from phi_inverse.experiments.scenes.turbulence import SURROGATE, TurbulenceScene
from phi_inverse.physics import TIME
from phi_inverse.smdp.metrics import radial_power_spectrum

DEFAULTS = dict(steps=1500, batch=8, res=32, eval_every=500, test_size=20, train_size=200, window=10, width=20, modes=12,
                filters=16, jit=True, threads=1)
PAPER = dict(steps=25000, batch=20, res=64, eval_every=2500, test_size=100, train_size=1000, window=10, width=20, modes=12,
             filters=32)
METHODS = ('surrogate-only', 'smdp-ode', 'smdp-sde', 'simultaneous-ode', 'simultaneous-sde')
SHOWN_TIMES = (0, 2, 4, 6, 8, 10)


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=METHODS)
    parser.add_argument('--window', type=positive_int, help=f"S_max of the multi-step loss (default {DEFAULTS['window']})")
    parser.add_argument('--train-size', type=positive_int, help=f"training trajectories (default {DEFAULTS['train_size']})")
    parser.add_argument('--width', type=positive_int, help=f"FNO channels (default {DEFAULTS['width']})")
    parser.add_argument('--modes', type=positive_int, help=f"FNO Fourier modes per direction (default {DEFAULTS['modes']})")
    parser.add_argument('--filters', type=positive_int, help=f"U-net channels of s_θ (default {DEFAULTS['filters']})")
    parser.add_argument('--end-time', type=float, default=10., help='T, recorded every 1 (paper: 10)')
    parser.add_argument('--diffusion', type=float, default=TurbulenceScene.diffusion,
                        help=f'g of the noise in the split reverse step (default {TurbulenceScene.diffusion})')
    parser.add_argument('--validation', action='store_true',
                        help='evaluate on held-out validation trajectories instead of the test set (to choose hyperparameters)')
    args = parse(parser, argv, 'turbulence')
    if any(m.startswith('smdp') for m in args.methods):
        args.methods = [SURROGATE] + [m for m in args.methods if m != SURROGATE]

    def make_scene(a):
        return TurbulenceScene(train_size=a.train_size, test_size=a.test_size, seed=a.seed, resolution=a.res, end_time=a.end_time,
                               window=a.window, modes=a.modes, width=a.width, filters=a.filters, diffusion=a.diffusion,
                               evaluate_on='validation' if a.validation else 'test')
    return run_demo(args, make_scene, lambda e, out: draw_figures(e, out), metric='mse', summary_keys=('mse', 'spectral_error'))


def draw_figures(experiment, out: str) -> list:
    """Reconstructed vorticity trajectories of two test examples per entry (paper Fig. 6a, 20, 21) and the
    radially averaged power spectra of `x̂_0`."""
    scene = experiment.scene
    truth = scene.test_trajectories
    shown = [t for t in SHOWN_TIMES if t <= scene.steps]
    examples = min(2, scene.test_size)
    rows = [{'ground truth': _frames(truth, i, shown)} for i in range(examples)]
    spectra = {'ground truth': math.mean(radial_power_spectrum(truth[{TIME: 0}]), 'examples').numpy('radius')}
    for name, net in experiment.networks.items():
        method = scene.methods[name]
        for entry, sampler in zip(method.entries(name), method.variants or (None,)):
            if entry not in experiment.metrics['methods']:
                continue
            reconstruction = scene.reconstruct(net, method, sampler, trajectory=True)
            for i in range(examples):
                rows[i][entry] = _frames(reconstruction, i, shown)
            spectra[entry] = math.mean(radial_power_spectrum(reconstruction[{TIME: 0}]), 'examples').numpy('radius')
    paths = [plot.image_grid(row, os.path.join(out, f'trajectories_{i + 1}.png'),
                             f'Test example {i + 1}: vorticity at t = {", ".join(map(str, shown))} (reconstructed from t = {scene.steps})',
                             shared_scale=[list(row)]) for i, row in enumerate(rows)]
    paths.append(figures.power_spectra(spectra, os.path.join(out, 'power_spectra.png'), 'Radially averaged power spectrum of x̂_0 (test set)'))
    return paths


def _frames(trajectory, example: int, times) -> list:
    return [np.asarray(trajectory.values[{'examples': example, TIME: t}].numpy('x,y')) for t in times]


if __name__ == '__main__':
    main()
