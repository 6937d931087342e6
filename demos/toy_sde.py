"""Toy SDE: SMDP multi-step vs 1-step vs implicit score matching, posterior metric Q (SMDP paper, Table 1, Fig. 2).

    python demos/toy_sde.py                           # CPU-sized: 2500 paths, 16000 steps per method
    python demos/toy_sde.py --data-fraction 0.1       # 10 % of the data (250 paths)
    python demos/toy_sde.py --paper                   # longer training
    python demos/toy_sde.py --backend jax --methods multi-step

Training windows are mirrored (x → −x) at random by default, which the symmetry of the SDE allows; `--no-mirror`
trains on the paths as the paper did.
"""
import os
import time

import numpy as np
from phi import math
from phi.math import batch

from phi_inverse.support import backends
from phi_inverse.experiments.demo import argument_parser, parse
from phi_inverse.support.jit_update import adam
from phi_inverse.experiments.scenes.toy_sde import METHODS, ToySDEScene, evaluator, make_step
from phi_inverse.experiments import smdp_figures as figures
from phi_inverse.experiments.smdp_runner import Runner

DEFAULTS = dict(steps=16000, batch=512, eval_every=4000, test_size=1000)
PAPER = dict(steps=64000, batch=512, eval_every=8000, test_size=1000)
PAPER_TABLE = {'multi-step': {1.: (.97, .99), .1: (.91, .94), .01: (.81, .85)},
               '1-step': {1.: (.78, .93), .1: (.44, .71), .01: (.41, .75)},
               'ism': {1.: (.19, .92), .1: (.15, .94), .01: (.01, .52)}}
ODE_FACTORS = (.5, 1.)  # every model is also sampled with these C, reported as posterior_q_ode_c<C>


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=tuple(METHODS))
    parser.add_argument('--data-fraction', type=float, default=1., help='fraction of the 2500 training paths (paper: 1, 0.1, 0.01)')
    parser.add_argument('--no-mirror', dest='mirror', action='store_false',
                        help='train on the paths as they are, without mirrored copies (x -> -x), as the paper did')
    parser.add_argument('--threads', type=int, default=1, help='CPU threads per operation')
    fraction = parser.parse_known_args(argv)[0].data_fraction
    args = parse(parser, argv, 'toy_sde' if fraction == 1 else f'toy_sde-{fraction:g}')
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    backends.limit_threads(args.backend, args.threads)
    backend = backends.select(args.backend, args.device)
    scene = ToySDEScene(trajectories=max(1, round(2500 * args.data_fraction)), seed=args.seed, test_paths=args.test_size, mirror=args.mirror)
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"Unknown method(s) {unknown}. This demo offers: {', '.join(METHODS)}.")
    config = {'steps': args.steps, 'batch': args.batch, 'seed': args.seed, 'data_fraction': args.data_fraction,
              'eval_every': args.eval_every, 'paper': args.paper, **scene.config(),
              'methods': {m: {**vars(METHODS[m]), 'ode_factor': METHODS[m].ode_factor} for m in args.methods}}
    print(f"toy SDE: {', '.join(args.methods)} on {backend.name} ({backends.describe_device(backend)}), {scene.trajectories} paths, "
          f"{args.steps} steps, batch {args.batch}; writing to {args.out}")
    runner = Runner('toy_sde', args.out, config)
    networks = {}
    for name in args.methods:
        math.seed(args.seed)
        net = networks[name] = scene.network()
        optimizer = adam(net, METHODS[name].schedule(args.steps))
        step = make_step(scene, METHODS[name], net, optimizer, args.steps, args.batch, args.seed)
        evaluate = evaluator(scene, net, METHODS[name], ODE_FACTORS)
        runner.train(name, [name], step, lambda e=evaluate, n=name: {n: e()}, args.steps, args.eval_every,
                     {'net': net, 'optimizer': optimizer}, args.resume)
    runner.metrics['figures'] = draw_figures(scene, networks, runner.metrics, args.out)
    runner.metrics['cpu_seconds'] = time.process_time() - cpu_start
    runner.metrics['wall_seconds'] = time.perf_counter() - wall_start
    runner.save()
    print(summary(runner.metrics, args.data_fraction))
    return runner


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
    rows = {name: {f'{sampler.upper()} (C = {factor:g})': scene.reconstruct(c, sampler, starts, trajectory=True, correction_factor=factor).numpy('time,examples')
                   for sampler, factor in (('ode', .5), ('ode', 1.), ('sde', 1.))} for name, c in corrections.items()}
    return [os.path.basename(p) for p in (
        figures.correction_fields(fields, times, states, shown, os.path.join(out, 'correction_field.png'),
                                  'Learned correction s_θ(x, t) and training paths'),
        figures.trajectories(rows, scene.times.numpy('time'), os.path.join(out, 'trajectories.png'),
                             'Reverse trajectories from x_T evenly spaced in [-0.1, 0.1]'),
        figures.metric_curves(metrics, ['posterior_q_ode', 'posterior_q_sde'], os.path.join(out, 'learning_curves.png'), 'posterior Q'))]


def summary(metrics: dict, data_fraction: float) -> str:
    lines = [f"{'method':12s}{'Q ODE':>7s}{'(C)':>5s}{'Q ODE, other C':>16s}{'Q SDE':>8s}{'paper ODE':>11s}{'paper SDE':>11s}{'s/step':>9s}"]
    for name, entry in metrics['methods'].items():
        final = entry.get('final', {})
        paper = PAPER_TABLE.get(name, {}).get(data_fraction, (float('nan'),) * 2)
        note = f"  diverged at step {entry['diverged_at']}" if 'diverged_at' in entry else ''
        factor = METHODS[name].ode_factor if name in METHODS else np.nan
        others = ', '.join(f"{k[len('posterior_q_ode_c'):]}: {v:.3f}" for k, v in final.items() if k.startswith('posterior_q_ode_c'))
        lines.append(f"{name:12s}{final.get('posterior_q_ode', np.nan):7.3f}{factor:5g}{others:>16s}"
                     f"{final.get('posterior_q_sde', np.nan):8.3f}{paper[0]:11.2f}{paper[1]:11.2f}{entry.get('seconds_per_step', np.nan):9.4f}{note}")
    lines.append(f"process CPU time {metrics['cpu_seconds']:.0f} s, wall time {metrics['wall_seconds']:.0f} s")
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
