"""The command line shared by every demo, and the run of a demo through the runner.

A demo script declares its CPU-sized defaults and the paper's configuration, builds its scene from the parsed
flags, and hands both to `run_demo()`. The common flags mean the same in every demo; one that does not apply to a
scene (e.g. `--res` without a grid) is rejected with a message.
"""
import argparse
import os
import sys
import time
from dataclasses import replace
from typing import Callable, Dict, Optional, Sequence

from ..support import backends, distributed, sharding
from ..support.checks import TRAINING_BACKENDS
from . import parallel, plot
from .methods import Method
from .runner import Experiment
from .scenes.base import Scene

SCENE_FLAGS = ('res',)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends a flag's default to its help unless the help already names it or there is none to show."""

    def _get_help_string(self, action):
        if action.default in (None, '') or 'default' in (action.help or ''):
            return action.help
        return super()._get_help_string(action)


def positive_int(text: str) -> int:
    """An `argparse` type for counts and sizes: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer but got {value}")
    return value


def argument_parser(description: str, defaults: dict, paper: dict, methods: Sequence[str],
                    backend_choices: Sequence[str] = TRAINING_BACKENDS) -> argparse.ArgumentParser:
    """The demo flags shared by every demo. `defaults` are CPU-sized; `--paper` switches to `paper`; explicit flags win."""
    parser = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    parser.set_defaults(_defaults=defaults, _paper=paper)
    parser.add_argument('--backend', choices=backend_choices, default='torch', help='ML backend')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None, help="compute device (default: PhiFlow's choice)")
    parser.add_argument('--steps', type=int, help=f"training iterations per method (default {defaults.get('steps')})")
    parser.add_argument('--batch', type=positive_int, help=f"mini-batch size (default {defaults.get('batch')})")
    parser.add_argument('--res', type=int, help=f"grid cells per side (default {defaults.get('res', 'none: no grid')})")
    parser.add_argument('--methods', default=','.join(methods), help='comma-separated methods to train')
    parser.add_argument('--lr', default='', help='learning-rate overrides, e.g. "sgd=1e-10,adam=3e-4"')
    parser.add_argument('--seed', type=int, default=0, help='seeds data, test set and network initialisation')
    parser.add_argument('--eval-every', type=positive_int, help=f"evaluation interval (default {defaults.get('eval_every')})")
    parser.add_argument('--test-size', type=int, help=f"examples in the test set (default {defaults.get('test_size')})")
    parser.add_argument('--out', default=None, help='output directory (default results/<demo>)')
    parser.add_argument('--paper', action='store_true', help=f'use the paper configuration: {paper}')
    parser.add_argument('--resume', action='store_true', help='continue the runs saved in --out where they stopped')
    parser.add_argument('--jit', action=argparse.BooleanOptionalAction, default=defaults.get('jit', False),
                        help='JIT-compile each training step (network, physics and update)')
    parser.add_argument('--devices', type=positive_int, default=1, help='JAX: shard each batch over this many local devices '
                        '(PyTorch: start the demo with torchrun --nproc_per_node N)')
    parser.add_argument('--threads', type=positive_int, default=defaults.get('threads'),
                        help='CPU threads per operation' + ('' if defaults.get('threads') else " (default: the backend's choice)"))
    parser.add_argument('--jobs', type=positive_int, default=defaults.get('jobs', 1),
                        help='train the methods in this many processes at a time (one method each); figures follow')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None, name: str = 'demo') -> argparse.Namespace:
    """Parses flags and fills unset ones from the paper configuration (with `--paper`) or the CPU defaults."""
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    configuration = {**args._defaults, **(args._paper if args.paper else {})}
    for flag in SCENE_FLAGS:
        if getattr(args, flag) is not None and flag not in configuration:
            parser.error(f"--{flag} does not apply to this demo; drop it.")
    for key, value in configuration.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.out = args.out or os.path.join('results', name + ('-paper' if args.paper else ''))
    args.methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    args.lr = dict(_parse_override(item) for item in args.lr.split(',') if item.strip())
    if args.steps < 0:
        parser.error(f"--steps must be >= 0 but got {args.steps}.")
    if args.devices > 1 and not (args.backend == 'jax' and args.jit):
        parser.error("--devices N shards compiled JAX steps: add --backend jax --jit (PyTorch: use torchrun --nproc_per_node N).")
    if args.jobs > 1 and args.devices > 1:
        parser.error("--jobs N trains methods in separate processes; it does not combine with --devices.")
    return args


def _parse_override(item: str):
    name, _, value = item.partition('=')
    try:
        return name.strip(), float(value)
    except ValueError:
        raise SystemExit(f"--lr expects method=value pairs such as 'sgd=1e-10' but got '{item}'.")


def select_methods(available: Dict[str, Method], names: Sequence[str], learning_rates: Dict[str, float]) -> Dict[str, Method]:
    """The requested methods of a scene, with learning-rate overrides applied; unknown names are an error.

    A name is a method (e.g. `smdp`, trained once and evaluated as all its variants) or one of its entries
    (e.g. `smdp-ode`, which keeps only that variant).
    """
    chosen: Dict[str, list] = {}
    for requested in names:
        name, variant = _lookup(available, requested)
        chosen.setdefault(name, []).extend(available[name].variants if variant is None else [variant])
    selected = {name: replace(available[name], variants=tuple(v for v in available[name].variants if v in variants))
                for name, variants in chosen.items()}
    unknown = [n for n in learning_rates if n not in selected]
    if unknown:
        raise SystemExit(f"--lr names {unknown}, which are not among the methods to train ({', '.join(selected)}).")
    return {n: m.with_learning_rate(learning_rates[n]) if n in learning_rates else m for n, m in selected.items()}


def _lookup(available: Dict[str, Method], requested: str):
    if requested in available:
        return requested, None
    for name, method in available.items():
        for variant in method.variants:
            if requested == f'{name}-{variant}':
                return name, variant
    entries = [entry for name, method in available.items() for entry in method.entries(name)]
    raise SystemExit(f"Unknown method '{requested}'. This demo offers: {', '.join(available)} "
                     f"(entries: {', '.join(entries)}).")


def run_demo(args: argparse.Namespace, make_scene: Callable[[argparse.Namespace], Scene],
             figures: Callable[[Experiment, str], Sequence[str]] = None, metric: str = 'x_mae',
             summary_keys: Sequence[str] = ('x_mae', 'y_loss'), methods: Dict[str, Method] = None) -> Experiment:
    """Selects the backend, trains every requested method, writes `metrics.json` and the figures, prints a summary.

    Args:
        make_scene: Builds the scene from the parsed flags (after the backend is selected).
        figures: `figures(experiment, out) -> paths` draws the demo's own figures into the folder `out`.
        metric: The headline metric of the learning curves.
        summary_keys: The metrics of the printed summary; the first is compared against the first method.
        methods: Methods to train instead of the scene's own (e.g. an ablation); `--methods` selects among them.
    """
    if args.threads is not None:
        backends.limit_threads(args.backend, args.threads)
    if args.devices > 1:
        sharding.request_host_devices(args.devices)
    backend = backends.select(args.backend, args.device)
    world = distributed.setup(devices=args.devices)
    say = print if world.is_main else (lambda *_: None)
    scene = make_scene(args)
    methods = select_methods(methods or scene.methods, args.methods, args.lr)
    time_budget = getattr(args, 'time_budget', None)
    jobs = min(args.jobs, len(methods))
    config = {'steps': args.steps, 'eval_every': args.eval_every, 'paper': args.paper, 'methods': list(methods), 'jobs': jobs}
    if time_budget is not None:
        config['time_budget'] = time_budget
    say(f"{scene.name}: {', '.join(methods)} on {backend.name} ({backends.describe_device(backend)}), "
        f"{f'{time_budget:g} s of training' if time_budget is not None else f'{args.steps} steps'} per method, "
        f"batch {args.batch}{', jit' if args.jit else ''}{f', {world.size} workers ({world.backend})' if world.size > 1 else ''}; "
        f"writing to {args.out}")
    clock = (time.process_time(), time.perf_counter())
    if jobs > 1:
        if world.size > 1:
            raise SystemExit(f"--jobs {args.jobs} trains methods in separate processes; start it without torchrun.")
        parallel.check_independent(scene, jobs)
        parallel.train_in_processes(make_scene, args.argv, args.out, list(methods), jobs)
        if args.threads is not None:
            backends.limit_threads(args.backend, args.threads * jobs)  # the figures get the workers' cores
    experiment = Experiment(scene, args.batch, args.seed, args.test_size, args.out, config, jit=args.jit, write=not args.worker,
                            clock=clock)
    for name, method in methods.items():
        experiment.run(name, method, args.steps, args.eval_every, resume=args.resume or jobs > 1, time_budget=time_budget)
    if args.worker:
        return experiment
    if world.is_main:
        with distributed.unsynchronised():
            paths = [plot.learning_curves(experiment.metrics, os.path.join(args.out, 'learning_curves.png'), metric)]
            paths += list(figures(experiment, args.out)) if figures is not None else []
        experiment.metrics['figures'] = [os.path.basename(p) for p in paths]
        experiment.save()
        print(summary(experiment.metrics, keys=summary_keys))
    distributed.shutdown()
    if not world.is_main:
        raise SystemExit(0)  # the main worker alone goes on to the demo's own evaluations and figures
    return experiment


def summary(metrics: dict, keys: Sequence[str] = ('x_mae', 'y_loss'), reference: Optional[str] = None) -> str:
    """A text table of the final metrics and step times, with each entry's `keys[0]` relative to `reference`
    (default: the first entry)."""
    headline = keys[0]
    reference = reference or next(iter(metrics['methods']), '')
    width = max([12] + [len(name) + 2 for name in metrics['methods']])
    lines = [f"{'method':{width}s}" + ''.join(f'{k:>16s}' for k in keys) + f"{'s/step':>10s}{headline + '/' + reference:>20s}"]
    reference_value = metrics['methods'].get(reference, {}).get('final', {}).get(headline)
    for name, entry in metrics['methods'].items():
        final = entry.get('final', {})
        ratio = f'{final[headline] / reference_value:20.2f}' if reference_value and headline in final else f"{'–':>20s}"
        note = f"  diverged at step {entry['diverged_at']}" if 'diverged_at' in entry else ''
        lines.append(f'{name:{width}s}' + ''.join(f"{final.get(k, float('nan')):16.4g}" for k in keys)
                     + f"{entry.get('seconds_per_step', float('nan')):10.4f}{ratio}{note}")
    workers = metrics.get('config', {}).get('jobs', 1)
    cpu_note = f' (this process; {workers} worker processes trained)' if workers > 1 else ''
    lines.append(f"process CPU time {metrics.get('cpu_seconds', float('nan')):.0f} s{cpu_note}, wall time {metrics.get('wall_seconds', float('nan')):.0f} s")
    return '\n'.join(lines)
