"""The command line shared by the demo scripts and the run of a SIP demo.

A demo script declares its CPU-sized defaults and the paper's configuration, builds its scene from the
parsed flags, and hands both to `run_sip_demo()`.
"""
import argparse
import os
from typing import Callable, Dict, Optional, Sequence

from ..support import backends
from . import plot
from ..support.checks import TRAINING_BACKENDS
from .experiment import Experiment
from .scenes.base import Method, Scene


def argument_parser(description: str, defaults: dict, paper: dict, methods: Sequence[str],
                    backend_choices: Sequence[str] = TRAINING_BACKENDS) -> argparse.ArgumentParser:
    """The demo flags shared by every demo. `defaults` are CPU-sized; `--paper` switches to `paper`; explicit flags win."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.set_defaults(_defaults=defaults, _paper=paper)
    parser.add_argument('--backend', choices=backend_choices, default='torch', help='ML backend')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None, help="compute device (default: PhiFlow's choice)")
    parser.add_argument('--steps', type=int, help=f"training iterations per method (default {defaults.get('steps')})")
    parser.add_argument('--batch', type=int, help=f"mini-batch size (default {defaults.get('batch')})")
    if 'res' in defaults:
        parser.add_argument('--res', type=int, help=f"grid cells per side (default {defaults['res']})")
    parser.add_argument('--methods', default=','.join(methods), help='comma-separated methods to train')
    parser.add_argument('--lr', default='', help='learning-rate overrides, e.g. "sgd=1e-10,adam=3e-4"')
    parser.add_argument('--seed', type=int, default=0, help='seeds data, test set and network initialisation')
    parser.add_argument('--eval-every', type=int, help=f"evaluation interval (default {defaults.get('eval_every')})")
    parser.add_argument('--test-size', type=int, help=f"examples in the test set (default {defaults.get('test_size')})")
    parser.add_argument('--out', default=None, help='output directory (default results/<demo>)')
    parser.add_argument('--paper', action='store_true', help=f'use the paper configuration: {paper}')
    parser.add_argument('--resume', action='store_true', help='continue the runs saved in --out where they stopped')
    parser.add_argument('--jit', action=argparse.BooleanOptionalAction, default=defaults.get('jit', False),
                        help='JIT-compile each training step (network, physics and update)')
    return parser


def parse(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None, name: str = 'demo') -> argparse.Namespace:
    """Parses flags and fills unset ones from the paper configuration (with `--paper`) or the CPU defaults."""
    args = parser.parse_args(argv)
    configuration = {**args._defaults, **(args._paper if args.paper else {})}
    for key, value in configuration.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.out = args.out or os.path.join('results', name + ('-paper' if args.paper else ''))
    args.methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    args.lr = dict(_parse_override(item) for item in args.lr.split(',') if item.strip())
    if args.steps < 0 or args.batch < 1 or args.eval_every < 1:
        parser.error(f"--steps must be >= 0, --batch and --eval-every >= 1; got {args.steps}, {args.batch}, {args.eval_every}.")
    return args


def _parse_override(item: str):
    name, _, value = item.partition('=')
    try:
        return name.strip(), float(value)
    except ValueError:
        raise SystemExit(f"--lr expects method=value pairs such as 'sgd=1e-10' but got '{item}'.")


def select_methods(available: Dict[str, Method], names: Sequence[str], learning_rates: Dict[str, float]) -> Dict[str, Method]:
    """The requested methods of a scene, with learning-rate overrides applied; unknown names are an error."""
    unknown = [n for n in list(names) + list(learning_rates) if n not in available]
    if unknown:
        raise SystemExit(f"Unknown method(s) {unknown}. This demo offers: {', '.join(available)}.")
    return {n: available[n].with_learning_rate(learning_rates[n]) if n in learning_rates else available[n] for n in names}


def run_sip_demo(args: argparse.Namespace, make_scene: Callable[[argparse.Namespace], Scene],
                 example_figure: Callable[[Experiment, str], str] = None, metric: str = 'x_mae') -> Experiment:
    """Selects the backend, trains every requested method, writes `metrics.json` and the figures, prints a summary.

    `metric` is the headline metric of the learning curves and the summary. If `args` has a `time_budget`
    (seconds, not `None`), every method trains for that much wall time, with `args.steps` as an upper bound.
    """
    backend = backends.select(args.backend, args.device)
    scene = make_scene(args)
    methods = select_methods(scene.methods, args.methods, args.lr)
    time_budget = getattr(args, 'time_budget', None)
    config = {'steps': args.steps, 'eval_every': args.eval_every, 'paper': args.paper, 'methods': list(methods)}
    if time_budget is not None:
        config['time_budget'] = time_budget
    print(f"{scene.name}: {', '.join(methods)} on {backend.name} ({backends.describe_device(backend)}), "
          f"{f'{time_budget:g} s of training' if time_budget is not None else f'{args.steps} steps'} per method, "
          f"batch {args.batch}{', jit' if args.jit else ''}; writing to {args.out}")
    experiment = Experiment(scene, args.batch, args.seed, args.test_size, args.out, config, jit=args.jit)
    for name, method in methods.items():
        experiment.run(name, method, args.steps, args.eval_every, resume=args.resume, time_budget=time_budget)
    figures = [plot.learning_curves(experiment.metrics, os.path.join(args.out, 'learning_curves.png'), metric)]
    if example_figure is not None:
        figures.append(example_figure(experiment, os.path.join(args.out, 'examples.png')))
    experiment.metrics['figures'] = [os.path.basename(f) for f in figures]
    experiment.save()
    print(summary(experiment.metrics, keys=(metric, 'y_loss')))
    return experiment


def summary(metrics: dict, reference: str = 'sip', keys: Sequence[str] = ('x_mae', 'y_loss')) -> str:
    """A text table of the final metrics and step times, with each method's `keys[0]` relative to `reference`."""
    headline = keys[0]
    lines = [f"{'method':12s}" + ''.join(f'{k:>12s}' for k in keys) + f"{'s/step':>10s}{headline + '/' + reference:>14s}"]
    reference_value = metrics['methods'].get(reference, {}).get('final', {}).get(headline)
    for name, entry in metrics['methods'].items():
        final = entry.get('final', {})
        ratio = f'{final[headline] / reference_value:14.2f}' if reference_value and headline in final else f"{'–':>14s}"
        note = f"  diverged at step {entry['diverged_at']}" if 'diverged_at' in entry else ''
        lines.append(f'{name:12s}' + ''.join(f"{final.get(k, float('nan')):12.4g}" for k in keys)
                     + f"{entry.get('seconds_per_step', float('nan')):10.4f}{ratio}{note}")
    return '\n'.join(lines)
