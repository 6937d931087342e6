"""Benchmark rows `{name, baseline, value, ratio, aim}` (times in seconds): building and printing them, and the
command line shared by the SMDP benchmarks."""
import argparse
from typing import List, Sequence

from phi_inverse.support import backends

from phi_inverse.experiments.methods import start_training
from phi_inverse.experiments.scenes.base import Scene
from phi_inverse.experiments.timing import interleaved_medians


def row(name: str, baseline: float, value: float, aim: str) -> dict:
    return dict(name=name, baseline=baseline, value=value, ratio=value / baseline, aim=aim)


def training_step_row(scene: Scene, size: int, repeat: int, name: str, aim: str, methods=('sip', 'adam'), warmup: int = 5) -> dict:
    """Median time of a training step of `methods[0]` over one of `methods[1]` (same network and data), interleaved."""
    steps = {}
    for method in methods:
        steps[method] = start_training(scene, scene.methods[method], size, seed=0, steps=10 ** 6)[2]
    counter = {method: 0 for method in methods}

    def timed(method):
        counter[method] += 1
        return steps[method](counter[method])
    times = interleaved_medians({method: (lambda m=method: timed(m)) for method in methods}, repeat, warmup)
    return row(name, times[methods[1]], times[methods[0]], aim)


def print_table(title: str, rows: List[dict]):
    print(title)
    print(f"{'measurement':70s}{'baseline':>12s}{'measured':>12s}{'ratio':>9s}  aim")
    for entry in rows:
        print(f"{entry['name']:70s}{entry['baseline'] * 1e3:10.2f}ms{entry['value'] * 1e3:10.2f}ms{entry['ratio']:9.2f}  {entry['aim']}")


def backend_parser(description: str, choices: Sequence[str] = ('torch', 'jax')) -> argparse.ArgumentParser:
    """`--backend`, `--device`, `--threads` (default 1) and `--repeat` (default 20)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--backend', default='torch', choices=choices)
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--repeat', type=int, default=20)
    return parser


def select_backend(args: argparse.Namespace):
    """Limits the threads of `args.backend` and selects it on `args.device`; returns the backend."""
    backends.limit_threads(args.backend, args.threads)
    return backends.select(args.backend, args.device)
