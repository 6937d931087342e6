"""Wave packet: a network localises packets in noisy time series better than L-BFGS-B from a centred guess
(SIP paper, appendix C.1, Fig. 16).

    python demos/wave_packet.py                  # 2000 Adam steps, 256 test series
    python demos/wave_packet.py --paper          # 5000 steps, 1000 test series (the paper does not state its count)
    python demos/wave_packet.py --backend jax --steps 100

The network (Adam 10⁻³, batch 100) and L-BFGS-B (per series, started at t₀ = 76.8) minimise the same loss
½‖y(t₀) − y*‖². A packet counts as localised when the estimate lies within half a period π/f of the true t₀,
i.e. in the right crest; random guessing is the chance level.
"""
import os

import numpy as np
from phi import math

from phi_inverse.experiments import plot
from phi_inverse.experiments.demo import argument_parser, parse, run_demo
from phi_inverse.experiments.runner import Experiment
from phi_inverse.physics import wave_packet
from phi_inverse.experiments.scenes.wave_packet import CENTRE, WavePacketScene

DEFAULTS = dict(steps=2000, batch=100, eval_every=50, test_size=256, lbfgsb_iterations=100, threads=1)
PAPER = dict(steps=5000, batch=100, eval_every=50, test_size=1000, lbfgsb_iterations=100)
KEYS = ('localised', 'x_mae', 'y_loss')


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, methods=('adam',))
    parser.add_argument('--lbfgsb-iterations', type=int, help=f"L-BFGS-B iterations per series (default {DEFAULTS['lbfgsb_iterations']})")
    args = parse(parser, argv, 'wave_packet')

    def figures(experiment: Experiment, out: str) -> list:
        experiment.metrics['config']['lbfgsb_iterations'] = args.lbfgsb_iterations
        estimates = baselines(experiment, args.lbfgsb_iterations, args.seed)
        return [localisation_figure(experiment, estimates, os.path.join(out, 'localisation.png'))]
    experiment = run_demo(args, lambda a: WavePacketScene(), figures, summary_keys=KEYS[1:])
    print(summary(experiment.metrics))
    return experiment


def baselines(experiment: Experiment, iterations: int, seed: int) -> dict:
    """Fits L-BFGS-B and draws random guesses on the test set, records them as methods; returns all estimates of t₀."""
    scene, test = experiment.scene, experiment.test_set
    t0_lbfgsb, seconds = scene.lbfgsb(test, iterations)
    estimates = {'lbfgsb': t0_lbfgsb, 'random': scene.random_guess(test, seed)}
    for name, t0 in estimates.items():
        final = {key: float(math.mean(value, 'batch')) for key, value in scene.metrics(t0, test).items()}
        experiment.metrics['methods'][name] = {'final': final}
    experiment.metrics['methods']['lbfgsb']['seconds'] = seconds
    experiment.metrics['methods']['lbfgsb']['iterations'] = iterations
    for name, net in experiment.networks.items():
        estimates[name] = math.stop_gradient(scene.predict(net, test))
    return estimates


def localisation_figure(experiment: Experiment, estimates: dict, path: str) -> str:
    """Fig. 16: (a) the test series nearest to and farthest from the centre with both fits; (b) learning curves."""
    test, methods = experiment.test_set, experiment.metrics['methods']
    t0_true = test.x.numpy('batch')
    fig = plot.figure(figsize=(14, 7.5), layout='constrained')
    top, bottom = fig.subfigures(2, 1)
    examples = (int(np.argmin(abs(t0_true - CENTRE))), int(np.argmax(abs(t0_true - CENTRE))))
    for axis, index in zip(top.subplots(1, 2), examples):
        axis.plot(test.y.batch[index].numpy('t'), color='tab:gray', lw=.8, label='data y*')
        for name, t0 in estimates.items():
            if name != 'random':
                value = float(t0.batch[index])
                label, color = ('L-BFGS-B', 'tab:green') if name == 'lbfgsb' else (f'network ({name})', 'tab:blue')
                axis.plot(wave_packet.forward(math.tensor(value)).numpy('t'), color=color, lw=1.5, label=f'{label}: t₀ = {value:.1f}')
        axis.axvline(t0_true[index], color='k', ls=':', label=f'true t₀ = {t0_true[index]:.1f}')
        axis.set_xlabel('t')
        axis.legend(fontsize=8, loc='upper right')
    curves = (('y_loss', '½‖y − y*‖²'), ('x_mae', '|t̂₀ − t₀|'), ('localised', 'fraction localised'))
    for axis, (key, label) in zip(bottom.subplots(1, 3), curves):
        for name, entry in methods.items():
            if 'curve' in entry:
                axis.plot(entry['curve']['step'], entry['curve'][key], color='tab:blue', label=f'network ({name})')
            else:
                axis.axhline(entry['final'][key], ls='--', color='tab:green' if name == 'lbfgsb' else 'tab:gray',
                             label='L-BFGS-B from t₀ = 76.8' if name == 'lbfgsb' else 'random guess')
        axis.set_xlabel('training step')
        axis.set_ylabel(label)
        axis.grid(True, alpha=.3)
    axis.legend(fontsize=8)
    fig.suptitle(f"Wave-packet localisation on {len(t0_true)} test series ({experiment.metrics['backend']}, {experiment.metrics['device']}); "
                 f"top: the series nearest to and farthest from the centre")
    fig.savefig(path, dpi=110)
    return path


def summary(metrics: dict) -> str:
    lines = [f"{'method':12s}" + ''.join(f'{key:>12s}' for key in KEYS)]
    for name, entry in metrics['methods'].items():
        lines.append(f'{name:12s}' + ''.join(f"{entry.get('final', {}).get(key, float('nan')):12.4g}" for key in KEYS))
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
