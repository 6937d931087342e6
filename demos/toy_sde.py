"""Toy SDE: SMDP multi-step vs 1-step vs implicit and sliced score matching, posterior metric Q (SMDP paper, Table 1, Fig. 2).

    python demos/toy_sde.py                           # CPU-sized: 2500 paths, 16000 steps per method
    python demos/toy_sde.py --data-fraction 0.1       # 10 % of the data (250 paths)
    python demos/toy_sde.py --paper                   # longer training
    python demos/toy_sde.py --backend jax --methods multi-step
    python demos/toy_sde.py --table --seeds 0,1,2     # Table 3: all methods x 100 / 10 / 1 % data x seeds
    python demos/toy_sde.py --table --jobs 2          # two runs of the table at a time

Every training window comes with its mirror image (x → −x) by default, which the symmetry of the SDE allows; `--no-mirror`
trains on the paths as the paper did.
"""
import json
import os
from argparse import Namespace

import numpy as np
from phi import math
from phi.math import batch

from phi_inverse.experiments import smdp_figures as figures
from phi_inverse.experiments import table
from phi_inverse.experiments.demo import argument_parser, parse, run_demo
from phi_inverse.experiments.scenes.toy_sde import METHODS, ToySDEScene

DEFAULTS = dict(steps=16000, batch=1024, eval_every=4000, test_size=1000, jit=True, threads=1)
PAPER = dict(steps=64000, batch=1024, eval_every=8000, test_size=1000)
# Table 3 of the paper: Q (mean, std over three runs) of (ODE, SDE) per method and data fraction
PAPER_TABLE = {'multi-step': {1.: ((.97, .04), (.99, .01)), .1: ((.91, .05), (.94, .02)), .01: ((.81, .01), (.85, .06))},
               '1-step': {1.: ((.78, .16), (.93, .05)), .1: ((.44, .13), (.71, .10)), .01: ((.41, .13), (.75, .10))},
               'ism': {1.: ((.19, .05), (.92, .05)), .1: ((.15, .15), (.94, .01)), .01: ((.01, .01), (.52, .22))},
               'ssm-vr': {1.: ((.17, .16), (.88, .06)), .1: ((.49, .24), (.94, .06)), .01: ((.27, .47), (.67, .23))}}
TABLE_METRICS = ('posterior_q_ode', 'posterior_q_sde')


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=tuple(METHODS))
    parser.add_argument('--data-fraction', type=float, default=1., help='fraction of the 2500 training paths (paper: 1, 0.1, 0.01)')
    parser.add_argument('--no-mirror', dest='mirror', action='store_false',
                        help='train on the paths as they are, without mirrored copies (x -> -x), as the paper did')
    parser.add_argument('--table', action='store_true', help='Table 3: every method x --fractions x --seeds, one run each, aggregated')
    parser.add_argument('--seeds', default=None, help='comma-separated seeds of --table (default: --seed)')
    parser.add_argument('--fractions', default='1,0.1,0.01', help='data fractions of --table')
    known = parser.parse_known_args(argv)[0]
    name = 'toy_sde-table' if known.table else 'toy_sde' if known.data_fraction == 1 else f'toy_sde-{known.data_fraction:g}'
    args = parse(parser, argv, name)
    if args.table:
        return run_table(args)
    experiment = run_single(args)
    print(summary(experiment.metrics, args.data_fraction))
    return experiment


def run_single(args: Namespace, figures: bool = True):
    """One experiment: every requested method on `args.data_fraction` of the paths, seeded by `args.seed`."""
    def make_scene(a):
        return ToySDEScene(trajectories=max(1, round(2500 * a.data_fraction)), seed=a.seed, test_paths=a.test_size, mirror=a.mirror)

    def finish(experiment, out):
        experiment.metrics['config']['data_fraction'] = args.data_fraction
        for entry in experiment.metrics['methods'].values():
            loss = METHODS[entry['model']].objective.trained_with
            ode, sde = loss.ode_factor, loss.sde_factor
            entry['correction_factors'] = {'ode': ode, 'sde': sde}
        return draw_figures(experiment.scene, experiment.networks, experiment.metrics, out) if figures else []
    return run_demo(args, make_scene, finish, metric='posterior_q_sde', summary_keys=TABLE_METRICS)


def _table_run(args: Namespace) -> str:
    run_single(args, figures=False)
    return args.out


def run_table(args: Namespace) -> dict:
    """Table 3: one experiment per (data fraction, seed), then means and standard deviations beside the paper's."""
    seeds = [int(s) for s in (args.seeds or str(args.seed)).split(',')]
    fractions = [float(f) for f in args.fractions.split(',')]
    jobs = {(f, seed): Namespace(**{**vars(args), 'data_fraction': f, 'seed': seed, 'table': False, 'jobs': 1,
                                    'out': os.path.join(args.out, f'fraction-{f:g}', f'seed-{seed}')})
            for f in fractions for seed in seeds}
    folders = dict(zip(jobs, table.run_grid(_table_run, list(jobs.values()), args.jobs)))
    results = table.compare(table.aggregate(folders, TABLE_METRICS), PAPER_TABLE, TABLE_METRICS)
    metrics = {'scene': 'toy_sde', 'seeds': seeds, 'data_fractions': fractions, 'runs': {f'{f:g}/{s}': d for (f, s), d in folders.items()},
               'correction_factors': {n: {'ode': m.objective.trained_with.ode_factor, 'sde': m.objective.trained_with.sde_factor} for n, m in METHODS.items()},
               'methods': {n: {f'{f:g}': cells for f, cells in by_fraction.items()} for n, by_fraction in results.items()},
               'met': 'mean >= paper mean - paper std'}
    text = table.rst_table(results, TABLE_METRICS, ('ODE', 'SDE'), fractions, lambda f: f'{100 * f:g} %',
                           title=f'Posterior Q, mean ± std over seeds {seeds} (paper Table 3 in parentheses; ✓: mean ≥ paper mean − paper std)')
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'metrics.json'), 'w') as file:
        json.dump(metrics, file, indent=1)
    with open(os.path.join(args.out, 'table.rst'), 'w') as file:
        file.write(text)
    print(text)
    return metrics


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
        paper = [mean for mean, _ in PAPER_TABLE.get(name, {}).get(data_fraction, ((np.nan, np.nan),) * 2)]
        note = f"  diverged at step {entry['diverged_at']}" if 'diverged_at' in entry else ''
        factor = METHODS[name].objective.trained_with.ode_factor if name in METHODS else np.nan
        others = ', '.join(f"{k[len('posterior_q_ode_c'):]}: {v:.3f}" for k, v in final.items() if k.startswith('posterior_q_ode_c'))
        lines.append(f"{name:12s}{final.get('posterior_q_ode', np.nan):7.3f}{factor:5g}{others:>16s}"
                     f"{final.get('posterior_q_sde', np.nan):8.3f}{paper[0]:11.2f}{paper[1]:11.2f}{entry.get('seconds_per_step', np.nan):9.4f}{note}")
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
