"""Toy SDE: SMDP multi-step vs 1-step vs implicit score matching, posterior metric Q (SMDP paper, Table 1, Fig. 2).

    python demos/toy_sde.py                           # CPU-sized: 2500 paths, 16000 steps per method
    python demos/toy_sde.py --data-fraction 0.1       # 10 % of the data (250 paths)
    python demos/toy_sde.py --paper                   # longer training
    python demos/toy_sde.py --backend jax --methods multi-step

Training windows are mirrored (x → −x) at random by default, which the symmetry of the SDE allows; `--no-mirror`
trains on the paths as the paper did.
"""
import os

import numpy as np
from phi import math
from phi.math import batch

from phi_inverse.experiments import smdp_figures as figures
from phi_inverse.experiments.demo import argument_parser, parse, run_demo
from phi_inverse.experiments.scenes.toy_sde import METHODS, ToySDEScene

DEFAULTS = dict(steps=16000, batch=512, eval_every=4000, test_size=1000, jit=True, threads=1)
PAPER = dict(steps=64000, batch=512, eval_every=8000, test_size=1000)
PAPER_TABLE = {'multi-step': {1.: (.97, .99), .1: (.91, .94), .01: (.81, .85)},
               '1-step': {1.: (.78, .93), .1: (.44, .71), .01: (.41, .75)},
               'ism': {1.: (.19, .92), .1: (.15, .94), .01: (.01, .52)}}


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=tuple(METHODS))
    parser.add_argument('--data-fraction', type=float, default=1., help='fraction of the 2500 training paths (paper: 1, 0.1, 0.01)')
    parser.add_argument('--no-mirror', dest='mirror', action='store_false',
                        help='train on the paths as they are, without mirrored copies (x -> -x), as the paper did')
    fraction = parser.parse_known_args(argv)[0].data_fraction
    args = parse(parser, argv, 'toy_sde' if fraction == 1 else f'toy_sde-{fraction:g}')

    def make_scene(a):
        return ToySDEScene(trajectories=max(1, round(2500 * a.data_fraction)), seed=a.seed, test_paths=a.test_size, mirror=a.mirror)

    def draw(experiment, out):
        experiment.metrics['config']['data_fraction'] = args.data_fraction
        return draw_figures(experiment.scene, experiment.networks, experiment.metrics, out)
    experiment = run_demo(args, make_scene, draw, metric='posterior_q_sde', summary_keys=('posterior_q_ode', 'posterior_q_sde'))
    print(summary(experiment.metrics, args.data_fraction))
    return experiment


def draw_figures(scene: ToySDEScene, networks: dict, metrics: dict, out: str) -> list:
    """Correction fields over (t, x), ODE/SDE trajectories from x_T ∈ [−0.1, 0.1] (paper Fig. 2), Q curves."""
    corrections = {name: ToySDEScene.correction(net) for name, net in networks.items()}
    times = np.linspace(scene.dt, scene.steps * scene.dt, 200, dtype=np.float32)
    states = np.linspace(-1.25, 1.25, 126, dtype=np.float32)
    grid_t = math.tensor(np.tile(times, (len(states), 1)), batch('x,t'))
    grid_x = math.tensor(np.tile(states[:, None], (1, len(times))), batch('x,t'))
    fields = {name: c(grid_x, grid_t).numpy('x,t') for name, c in corrections.items()}
    shown = scene.paths[:20]
    starts = math.tensor(np.linspace(-.1, .1, 24, dtype=np.float32), batch('examples'))
    rows = {name: {f'{sampler.upper()} (C = {factor:g})': scene.reconstruct(c, sampler, METHODS[name].objective.trained_with, starts, trajectory=True, correction_factor=factor).numpy('time,examples')
                   for sampler, factor in (('ode', .5), ('ode', 1.), ('sde', 1.))} for name, c in corrections.items()}
    return [os.path.basename(p) for p in (
        figures.correction_fields(fields, times, states, shown, os.path.join(out, 'correction_field.png'),
                                  'Learned correction s_θ(x, t) and training paths'),
        figures.trajectories(rows, scene.times.numpy('time'), os.path.join(out, 'trajectories.png'),
                             'Reverse trajectories from x_T evenly spaced in [-0.1, 0.1]'),
        figures.metric_curves(metrics, ['posterior_q_ode', 'posterior_q_sde'], os.path.join(out, 'posterior_q.png'), 'posterior Q'))]


def summary(metrics: dict, data_fraction: float) -> str:
    lines = [f"{'method':12s}{'Q ODE':>7s}{'(C)':>5s}{'Q ODE, other C':>16s}{'Q SDE':>8s}{'paper ODE':>11s}{'paper SDE':>11s}{'s/step':>9s}"]
    for name, entry in metrics['methods'].items():
        final = entry.get('final', {})
        paper = PAPER_TABLE.get(name, {}).get(data_fraction, (float('nan'),) * 2)
        note = f"  diverged at step {entry['diverged_at']}" if 'diverged_at' in entry else ''
        factor = METHODS[name].objective.trained_with.ode_factor if name in METHODS else np.nan
        others = ', '.join(f"{k[len('posterior_q_ode_c'):]}: {v:.3f}" for k, v in final.items() if k.startswith('posterior_q_ode_c'))
        lines.append(f"{name:12s}{final.get('posterior_q_ode', np.nan):7.3f}{factor:5g}{others:>16s}"
                     f"{final.get('posterior_q_sde', np.nan):8.3f}{paper[0]:11.2f}{paper[1]:11.2f}{entry.get('seconds_per_step', np.nan):9.4f}{note}")
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
