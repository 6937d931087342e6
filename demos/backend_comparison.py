"""Compare PhiFlow backends on one scene: timings (eager and JIT), peak memory, final metrics and parity.

    python demos/backend_comparison.py                          # Poisson on every installed backend
    python demos/backend_comparison.py --scene poisson --backends torch,jax --steps 50 --device gpu

Each backend runs in its own process (so peak memory is its own) on identical, seeded inputs. Writes
`metrics.json` (key `backends`: per backend the median seconds of the forward physics, the inverse update and
a training step, eager and JIT; peak memory; final metrics; key `parity`: the largest absolute difference
between backends of the forward physics and the inverse update), `comparison.md` and `timings.png`.
NumPy takes part in the physics only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from phi_inverse.support import backends
from phi_inverse.experiments import comparison, plot
from phi_inverse.experiments.demo import HelpFormatter
from phi_inverse.experiments.scenes.exponential import ExponentialScene
from phi_inverse.experiments.scenes.fluid import FluidScene
from phi_inverse.experiments.scenes.heat import HeatScene
from phi_inverse.experiments.scenes.poisson import PoissonScene
from phi_inverse.experiments.scenes.sine2d import Sine2DScene

SIP_SCENES = {  # name: (make_scene(args, jit), SIP method)
    'poisson': (lambda args, jit: PoissonScene(res=args.res, jit=jit), 'sip'),
    'heat': (lambda args, jit: HeatScene(res=args.res), 'sip'),
    'fluid': (lambda args, jit: FluidScene(res=args.res, jit=jit), 'sip'),
    'sine2d': (lambda args, jit: Sine2DScene(), 'sip'),
    'exponential': (lambda args, jit: ExponentialScene(), 'newton'),
}
SMDP_SCENES = {  # name: probe_for(args)
    'stochastic_heat': lambda args: comparison.stochastic_heat_probe(args.batch, args.seed, args.res),
}
SCENES = {**SIP_SCENES, **SMDP_SCENES}
PARITY_AIM, PARITY_ACCEPTED = 1e-5, 1e-4


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument('--scene', choices=sorted(SCENES), default='poisson')
    parser.add_argument('--backends', '--backend', default=','.join(backends.installed()),
                        help='comma-separated backends (numpy runs the physics only)')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None, help="compute device (default: PhiFlow's choice)")
    parser.add_argument('--steps', type=int, default=20, help='training steps for the final metrics')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--res', type=int, default=32)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--repeat', type=int, default=10, help='timed repetitions per measurement')
    parser.add_argument('--out', default=None, help='output directory (default results/backend_comparison-<scene>)')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--worker-dir', help=argparse.SUPPRESS)
    return parser


def run_worker(args):
    """Measures one backend in this process and writes `report.json` and `outputs.npz` to `--worker-dir`."""
    backend = backends.select(args.worker, args.device)
    probe_for = probe_factory(args)
    report, outputs = comparison.measure(probe_for, args.steps, args.repeat, can_train=args.worker != 'numpy')
    with open(os.path.join(args.worker_dir, 'report.json'), 'w') as file:
        json.dump({'backend': backend.name, **report}, file)
    np.savez(os.path.join(args.worker_dir, 'outputs.npz'), **outputs)


def probe_factory(args):
    """`probe_for(jit)` of the chosen scene."""
    if args.scene in SMDP_SCENES:
        return SMDP_SCENES[args.scene](args)
    make_scene, method = SIP_SCENES[args.scene]
    return comparison.sip_probe(lambda jit: make_scene(args, jit), args.batch, args.seed, method)


def run_backend(name: str, argv, directory: str) -> tuple:
    command = [sys.executable, os.path.abspath(__file__), *argv, '--worker', name, '--worker-dir', directory]
    print(f'{name}: measuring …', flush=True)
    subprocess.run(command, check=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
    with open(os.path.join(directory, 'report.json')) as file:
        report = json.load(file)
    with np.load(os.path.join(directory, 'outputs.npz')) as arrays:
        return report, dict(arrays)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = argument_parser().parse_args(argv)
    if args.worker:
        return run_worker(args)
    names = [n.strip() for n in args.backends.split(',') if n.strip()]
    missing = [n for n in names if n not in backends.installed()]
    if missing:
        raise SystemExit(f"Backend(s) {missing} are not installed; installed: {', '.join(backends.installed())}.")
    out = args.out or os.path.join('results', f'backend_comparison-{args.scene}')
    os.makedirs(out, exist_ok=True)
    reports, outputs = {}, {}
    for name in names:
        with tempfile.TemporaryDirectory() as directory:
            reports[name], outputs[name] = run_backend(name, argv, directory)
    return write_results(args, out, reports, outputs)


def write_results(args, out: str, reports: dict, outputs: dict) -> dict:
    parity = comparison.parity(outputs)
    parity.update(aim=PARITY_AIM, accepted=PARITY_ACCEPTED, passed=parity['max_abs_diff'] <= PARITY_ACCEPTED)
    table = comparison.markdown_table(reports)
    figure = plot.timing_bars(reports, os.path.join(out, 'timings.png'), f'{args.scene}: median times per backend')
    metrics = {'scene': args.scene, 'config': {k: v for k, v in vars(args).items() if not k.startswith('worker')},
               'backends': reports, 'parity': parity, 'figures': [os.path.basename(figure), 'comparison.md']}
    with open(os.path.join(out, 'metrics.json'), 'w') as file:
        json.dump(metrics, file, indent=1)
    with open(os.path.join(out, 'comparison.md'), 'w') as file:
        file.write(f'# {args.scene}: backend comparison\n\n{table}\n\nParity (float32, identical inputs): max |Δ| = '
                   f"{parity['max_abs_diff']:.2e} (aim ≤ {PARITY_AIM:g}, accepted ≤ {PARITY_ACCEPTED:g})\n")
    print(table)
    for name, report in reports.items():
        if args.device and report['device'] != args.device.upper():
            print(f"{name}: no {args.device.upper()} available, measured on {report['device']} (recorded as 'device').")
    print(f"parity: max |Δ| forward {parity['by_operator']['forward']:.2e}, inverse {parity['by_operator']['inverse']:.2e}"
          f" ({'within' if parity['passed'] else 'OUTSIDE'} the accepted {PARITY_ACCEPTED:g}); results in {out}")
    return metrics


if __name__ == '__main__':
    main()
