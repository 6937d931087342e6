"""Stochastic heat equation: SMDP ODE/SDE vs "s_θ only" vs supervised reconstruction of x_0 from x_T (SMDP paper, Fig. 3, 4).

    python demos/stochastic_heat.py                        # CPU-sized: 1000 training fields, S_max = 8
    python demos/stochastic_heat.py --ablation 2,4,8       # window-size ablation of SMDP (paper Fig. 4)
    python demos/stochastic_heat.py --paper                # 2500 training / 500 test fields, S_max = 32
    python demos/stochastic_heat.py --backend jax --methods smdp-ode,smdp-sde
"""
import os
import time

import numpy as np
from phi import math

from phi_inverse.support import backends
from phi_inverse.experiments import plot
from phi_inverse.experiments.demo import argument_parser, parse
from phi_inverse.support.jit_update import adam
from phi_inverse.experiments.scenes.stochastic_heat import METHOD_MODEL, MODEL_METHODS, HeatTraining, StochasticHeatScene, make_step
from phi_inverse.experiments import smdp_figures as figures
from phi_inverse.smdp.metrics import radial_power_spectrum
from phi_inverse.experiments.smdp_runner import Runner

DEFAULTS = dict(steps=1200, batch=16, res=32, eval_every=400, test_size=100, train_size=1000, window=8, filters=16)
PAPER = dict(steps=20000, batch=32, res=32, eval_every=2000, test_size=500, train_size=2500, window=32, filters=32)
METHODS = tuple(METHOD_MODEL)


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=METHODS)
    parser.add_argument('--window', type=int, help=f"S_max of the multi-step loss (default {DEFAULTS['window']})")
    parser.add_argument('--train-size', type=int, help=f"training initial states (default {DEFAULTS['train_size']})")
    parser.add_argument('--filters', type=int, help=f"U-net channels (default {DEFAULTS['filters']})")
    parser.add_argument('--ablation', default='', help='comma-separated S_max values: train only SMDP, once per value (paper Fig. 4)')
    parser.add_argument('--samples', type=int, default=5, help='SDE posterior samples shown for one observation')
    parser.add_argument('--threads', type=int, default=1, help='CPU threads per operation')
    ablation = parser.parse_known_args(argv)[0].ablation
    args = parse(parser, argv, 'stochastic_heat-ablation' if ablation else 'stochastic_heat')
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"Unknown method(s) {unknown}. This demo offers: {', '.join(METHODS)}.")
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    backends.limit_threads(args.backend, args.threads)
    backend = backends.select(args.backend, args.device)
    scene = StochasticHeatScene(train_size=args.train_size, test_size=args.test_size, seed=args.seed, resolution=args.res, filters=args.filters)
    windows = [int(w) for w in args.ablation.split(',') if w.strip()]
    config = {'steps': args.steps, 'batch': args.batch, 'seed': args.seed, 'window': args.window, 'ablation': windows,
              'eval_every': args.eval_every, 'paper': args.paper, **scene.config()}
    runner = Runner('stochastic_heat', args.out, config)
    print(f"stochastic heat on {backend.name} ({backends.describe_device(backend)}), {args.steps} steps, batch {args.batch}; writing to {args.out}")
    if windows:
        networks = {f'smdp-s{w}': train(runner, scene, 'smdp', args, HeatTraining(window=w), suffix=f'-s{w}') for w in windows}
        runner.metrics['figures'] = [os.path.basename(figures.window_ablation(runner.metrics, windows, os.path.join(args.out, 'ablation.png')))]
    else:
        models = [m for m in MODEL_METHODS if any(METHOD_MODEL[method] == m for method in args.methods)]
        networks = {model: train(runner, scene, model, args, HeatTraining(window=args.window)) for model in models}
        runner.metrics['figures'] = draw_figures(scene, networks, runner.metrics, args)
    runner.metrics['cpu_seconds'] = time.process_time() - cpu_start
    runner.metrics['wall_seconds'] = time.perf_counter() - wall_start
    runner.save()
    print(summary(runner.metrics))
    return runner


def train(runner: Runner, scene: StochasticHeatScene, model: str, args, training: HeatTraining, suffix: str = ''):
    math.seed(args.seed)
    net = scene.network(model)
    optimizer = adam(net, training.schedule(args.steps))
    step = make_step(scene, model, training, net, optimizer, args.steps, args.batch, args.seed)
    methods = [m + suffix for m in MODEL_METHODS[model]]

    def evaluate():
        return {method + suffix: values for method, values in scene.evaluate(net, model).items()}
    runner.train(model + suffix, methods, step, evaluate, args.steps, args.eval_every, {'net': net, 'optimizer': optimizer}, args.resume)
    return net


def draw_figures(scene: StochasticHeatScene, networks: dict, metrics: dict, args) -> list:
    """Reconstructions, SDE posterior samples for one observation, radially averaged power spectra, learning curves."""
    count, out = 4, args.out
    first = {'examples': slice(0, count)}
    rows = {'ground truth x_0': plot.examples(scene.test_initial[first], count), 'observation x_T': plot.examples(scene.test_observation[first], count)}
    spectra = {'ground truth': math.mean(radial_power_spectrum(scene.test_initial), 'examples').numpy('radius')}
    for method in args.methods:
        model = METHOD_MODEL[method]
        reconstruction = scene.reconstruct(networks[model], model, method.rsplit('-', 1)[-1])
        rows[method] = plot.examples(reconstruction[first], count)
        spectra[method] = math.mean(radial_power_spectrum(reconstruction), 'examples').numpy('radius')
    paths = [plot.image_grid(rows, os.path.join(out, 'examples.png'), 'Stochastic heat: ground truth, observation and reconstructions',
                             shared_scale=[[r for r in rows if r != 'observation x_T']]),
             figures.power_spectra(spectra, os.path.join(out, 'power_spectra.png'), 'Radially averaged power spectrum (test set)')]
    sde_models = [m for m in ('smdp', 's-only') if f'{m}-sde' in args.methods]
    if sde_models:
        one = {'examples': slice(0, 1)}
        references = {'ground truth x_0': rows['ground truth x_0'][0], 'observation x_T': rows['observation x_T'][0]}
        references.update({method: rows[method][0] for method in args.methods if not method.endswith('sde')})
        samples = {f'{m}-sde': _sample_images(scene, networks[m], m, one, args.samples) for m in sde_models}
        paths.append(figures.posterior_samples(references, samples, os.path.join(out, 'posterior_samples.png'),
                                               'SDE posterior samples for one observation'))
    paths.append(figures.metric_curves(metrics, ['mse'], os.path.join(out, 'learning_curves.png'), 'reconstruction MSE', log=True))
    return [os.path.basename(p) for p in paths]


def _sample_images(scene, net, model, selection, count):
    samples = scene.reconstruct(net, model, 'sde', scene.test_observation[selection], samples=count)
    return [samples.values[{'examples': 0, 'sample': i}].numpy('x,y') for i in range(count)]


def summary(metrics: dict) -> str:
    lines = [f"{'method':16s}{'MSE':>12s}{'spectral err':>14s}{'s/step':>9s}"]
    for name, entry in metrics['methods'].items():
        final = entry.get('final', {})
        note = f"  diverged at step {entry['diverged_at']}" if 'diverged_at' in entry else ''
        lines.append(f"{name:16s}{final.get('mse', np.nan):12.4g}{final.get('spectral_error', np.nan):14.3f}{entry.get('seconds_per_step', np.nan):9.3f}{note}")
    lines.append(f"process CPU time {metrics['cpu_seconds']:.0f} s, wall time {metrics['wall_seconds']:.0f} s")
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
