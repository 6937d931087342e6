"""Stochastic heat equation: SMDP ODE/SDE vs "s_θ only", supervised, FNO and BNN reconstructions of x_0 from x_T
(SMDP paper, Fig. 3, 4).

    python demos/stochastic_heat.py                        # CPU-sized: FNO as s_θ, S_max = 16, 500 test fields
    python demos/stochastic_heat.py --ablation 2,4,8,16    # window-size ablation of SMDP (paper Fig. 4)
    python demos/stochastic_heat.py --paper                # the authors' ResNet, S_max = 32, ~470k steps (GPU)
    python demos/stochastic_heat.py --backend jax --methods smdp-ode,smdp-sde
"""
import os
from dataclasses import replace

from phi import math

from phi_inverse.experiments import plot
from phi_inverse.experiments import smdp_figures as figures
from phi_inverse.experiments.demo import argument_parser, parse, positive_int, run_demo
from phi_inverse.experiments.scenes.stochastic_heat import NETWORKS, StochasticHeatScene
from phi_inverse.smdp.metrics import radial_power_spectrum

DEFAULTS = dict(steps=2000, batch=16, res=32, eval_every=1000, test_size=500, train_size=2500, window=16, filters=16,
                levels=4, width=20, modes=12, network='fno', jit=True, threads=1, jobs=2)
PAPER = dict(steps=472000, batch=16, res=32, eval_every=25000, test_size=500, train_size=2500, window=32, network='encoder-decoder',
             gradient_clip=10.)
"""The authors' schedule: 14 curriculum epochs and 80 fine-tuning epochs over the 2500 training fields in 157 batches of
16, every window position an optimizer step (94 · 157 · 32 ≈ 472k steps)."""
METHODS = ('smdp-ode', 'smdp-sde', 's-only-ode', 's-only-sde', 'supervised', 'fno', 'bnn')


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=METHODS)
    parser.add_argument('--window', type=positive_int, help=f"S_max of the multi-step loss (default {DEFAULTS['window']})")
    parser.add_argument('--train-size', type=positive_int, help=f"training initial states (default {DEFAULTS['train_size']})")
    parser.add_argument('--width', type=positive_int, help=f"FNO channels (default {DEFAULTS['width']})")
    parser.add_argument('--modes', type=positive_int, help=f"FNO Fourier modes per direction (default {DEFAULTS['modes']})")
    parser.add_argument('--filters', type=positive_int, help=f"U-net channels, also of the BNN (default {DEFAULTS['filters']})")
    parser.add_argument('--levels', type=positive_int, help=f"U-net resolution levels (default {DEFAULTS['levels']})")
    parser.add_argument('--network', choices=NETWORKS, help=f"architecture of s_θ and the supervised baseline (default {DEFAULTS['network']})")
    parser.add_argument('--gradient-clip', type=float, help="clip every method's gradient to this global norm "
                        f"(default: no clipping; --paper: {PAPER['gradient_clip']:g})")
    parser.add_argument('--ablation', default='', help='comma-separated S_max values: train only SMDP, once per value (paper Fig. 4)')
    parser.add_argument('--samples', type=positive_int, default=5, help='SDE posterior samples shown for one observation')
    ablation = parser.parse_known_args(argv)[0].ablation
    args = parse(parser, argv, 'stochastic_heat-ablation' if ablation else 'stochastic_heat')
    windows = [int(w) for w in args.ablation.split(',') if w.strip()]

    def make_scene(a):
        return StochasticHeatScene(train_size=a.train_size, test_size=a.test_size, seed=a.seed, resolution=a.res,
                                   network=a.network, width=a.width, modes=a.modes, filters=a.filters, levels=a.levels, window=a.window,
                                   gradient_clip=a.gradient_clip)
    if windows:
        smdp = make_scene(args).methods['smdp']
        methods = {f'smdp-s{w}': replace(smdp, objective=replace(smdp.objective, window=w)) for w in windows}
        args.methods = [m for m in args.methods if m in methods] or list(methods)  # a --jobs worker names one
        experiment = run_demo(args, make_scene, lambda e, out: [figures.window_ablation(e.metrics, windows, os.path.join(out, 'ablation.png'))],
                              metric='mse', summary_keys=('mse', 'spectral_error'), methods=methods)
    else:
        experiment = run_demo(args, make_scene, lambda e, out: draw_figures(e, args),
                              metric='mse', summary_keys=('mse', 'spectral_error'))
    if args.worker:
        return experiment
    experiment.metrics['references'] = experiment.scene.references()
    experiment.save()
    print('exact posterior (Wiener filter) on the same test set:', experiment.metrics['references'])
    return experiment


def draw_figures(experiment, args) -> list:
    """Reconstructions, SDE posterior samples for one observation, radially averaged power spectra, the MSE split over
    the error's scales (also recorded in `metrics.json` as `mse_by_radius`), MSE curves."""
    scene, count, out = experiment.scene, 4, args.out
    first = {'examples': slice(0, count)}
    rows = {'ground truth x_0': plot.examples(scene.test_initial[first], count), 'observation x_T': plot.examples(scene.test_observation[first], count)}
    spectra = {'ground truth': math.mean(radial_power_spectrum(scene.test_initial), 'examples').numpy('radius')}
    errors = {'posterior mean': scene.mse_by_radius(scene.posterior()[0])}
    samples = {}
    for name, net in experiment.networks.items():
        method = scene.methods[name]
        for entry, sampler in zip(method.entries(name), method.variants or (None,)):
            if entry not in experiment.metrics['methods']:
                continue
            reconstruction = scene.reconstruct(net, method, sampler)
            rows[entry] = plot.examples(reconstruction[first], count)
            spectra[entry] = math.mean(radial_power_spectrum(reconstruction), 'examples').numpy('radius')
            errors[entry] = scene.mse_by_radius(reconstruction)
            if sampler == 'sde':
                samples[entry] = _sample_images(scene, net, method, args.samples)
    paths = [plot.image_grid(rows, os.path.join(out, 'examples.png'), 'Stochastic heat: ground truth, observation and reconstructions',
                             shared_scale=[[r for r in rows if r != 'observation x_T']]),
             figures.power_spectra(spectra, os.path.join(out, 'power_spectra.png'), 'Radially averaged power spectrum (test set)'),
             figures.method_comparison(experiment.metrics, os.path.join(out, 'metrics.png')),
             figures.error_by_radius(errors, os.path.join(out, 'error_by_radius.png'))]
    experiment.metrics['mse_by_radius'] = {label: [float(e) for e in error] for label, error in errors.items()}
    if samples:
        references = {label: images[0] for label, images in rows.items() if label not in samples}
        paths.append(figures.posterior_samples(references, samples, os.path.join(out, 'posterior_samples.png'),
                                               'SDE posterior samples for one observation'))
    return paths


def _sample_images(scene, net, method, count):
    samples = scene.reconstruct(net, method, 'sde', scene.test_observation[{'examples': slice(0, 1)}], samples=count)
    return [samples.values[{'examples': 0, 'sample': i}].numpy('x,y') for i in range(count)]


if __name__ == '__main__':
    main()
