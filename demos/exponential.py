"""Exponential: SGD and Adam vs the normalised-gradient ("rescaled") and Newton SIP updates learning to invert
P(x) = eˣ (SIP paper, section 2, Fig. 2, appendix C.2).

    python demos/exponential.py                          # 3000 steps per method
    python demos/exponential.py --paper                  # 10k steps, as in the paper
    python demos/exponential.py --methods adam,rescaled --steps 1000

The figure shows, like the paper's Fig. 2, each network's x̂ against the true x* = log y* and its error.
`x_mae_tail` is the mean error for x* < −8 (the small targets y* < e⁻⁸ that SGD and Adam do not learn).
"""
import os

import numpy as np
from phi import math

from phi_inverse.experiments import plot
from phi_inverse.experiments.demo import argument_parser, parse, run_demo
from phi_inverse.experiments.runner import Experiment
from phi_inverse.experiments.scenes.exponential import X_RANGE, ExponentialScene

METHODS = ('sgd', 'adam', 'rescaled', 'newton', 'newton-clipped')
DEFAULTS = dict(steps=3000, batch=100, eval_every=100, test_size=1000, threads=1)
PAPER = dict(steps=10000, batch=100, eval_every=250, test_size=1000)
TAIL = -8.
X_GRID = np.linspace(*X_RANGE, 241)


def main(argv=None):
    args = parse(argument_parser(__doc__.splitlines()[0], DEFAULTS, PAPER, METHODS), argv, 'exponential')
    experiment = run_demo(args, lambda a: ExponentialScene(), inversion_figures, summary_keys=('x_mae', 'y_loss'))
    print(summary(experiment.metrics))
    return experiment


def inversion_figures(experiment: Experiment, out: str) -> list:
    """Records `x_mae_tail` and each network's x̂ over an even grid of x*, and draws them (paper Fig. 2)."""
    predictions = predict_on_grid(experiment)
    experiment.metrics['config']['tail_below'] = TAIL
    for name, x_pred in predictions.items():
        error = abs(x_pred - X_GRID)
        experiment.metrics['methods'][name].setdefault('final', {})['x_mae_tail'] = float(error[X_GRID < TAIL].mean())
        experiment.metrics['methods'][name]['error_by_x'] = {'x': X_GRID.tolist(), 'x_pred': x_pred.tolist()}
    return [inversion_figure(experiment.metrics, predictions, os.path.join(out, 'inversion.png'))]


def predict_on_grid(experiment: Experiment) -> dict:
    """Each network's x̂ for y* = eˣ* on an even grid of x* (NumPy)."""
    examples = ExponentialScene.examples(X_GRID)
    return {name: math.stop_gradient(experiment.scene.predict(net, examples)).numpy('batch') for name, net in experiment.networks.items()}


def inversion_figure(metrics: dict, predictions: dict, path: str) -> str:
    fig, (inverse, error) = plot.subplots(1, 2, figsize=(11, 4.2))
    inverse.plot(X_GRID, X_GRID, 'k:', label='x* = log y*')
    for name, x_pred in predictions.items():
        inverse.plot(X_GRID, x_pred, label=name)
        error.plot(X_GRID, abs(x_pred - X_GRID), label=f"{name} (x* < {TAIL:g}: {metrics['methods'][name]['final']['x_mae_tail']:.2g})")
    inverse.set_ylabel('network prediction x̂')
    error.set_ylabel('|x̂ − x*|')
    error.set_yscale('log')
    error.axvspan(X_RANGE[0], TAIL, color='gray', alpha=.1)
    for axis in (inverse, error):
        axis.set_xlabel('x* = log y*')
        axis.grid(True, alpha=.3)
        axis.legend(fontsize=8)
    fig.suptitle(f"Inverting P(x) = eˣ ({metrics['backend']}, {metrics['device']}, {metrics['config']['steps']} steps)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def summary(metrics: dict, reference: str = 'adam') -> str:
    """Final x_mae, tail error and the reference's tail error relative to each method's."""
    lines = [f"{'method':16s}{'x_mae':>10s}{'x_mae_tail':>12s}{'s/step':>10s}{f'tail {reference}/method':>20s}"]
    reference_tail = metrics['methods'].get(reference, {}).get('final', {}).get('x_mae_tail', float('nan'))
    for name, entry in metrics['methods'].items():
        final = entry.get('final', {})
        note = f"  diverged at step {entry['diverged_at']}" if 'diverged_at' in entry else ''
        lines.append(f"{name:16s}{final.get('x_mae', float('nan')):10.4g}{final.get('x_mae_tail', float('nan')):12.4g}"
                     f"{entry.get('seconds_per_step', float('nan')):10.4f}{reference_tail / final.get('x_mae_tail', float('nan')):20.2f}{note}")
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
