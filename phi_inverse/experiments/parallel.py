"""Training a demo's methods in parallel processes (`--jobs N`).

Each method is trained by a fresh process that runs the demo script again with that one method and
`--worker`: the worker trains into the checkpoints of the shared output folder and writes neither `metrics.json`
nor figures. When every worker has finished, the parent run records each method from its checkpoint as a resumed
run that has nothing left to train, and draws the figures. Every method draws the same seeded data and
initialisation in whichever process trains it, so the results equal those of one process.
"""
import inspect
import runpy
from typing import Callable, Sequence

from . import table

WORKER_FLAGS = ('--jobs', '1', '--worker')


def check_independent(scene, jobs: int):
    """Refuses `--jobs` for a scene whose methods build on each other's trained networks (staged training)."""
    if jobs > 1 and hasattr(scene, 'register_network'):
        raise SystemExit(f"The methods of scene '{scene.name}' build on each other's networks and train in order; "
                         f"drop --jobs {jobs}.")


def train_in_processes(make_scene: Callable, argv: Sequence[str], out: str, names: Sequence[str], jobs: int):
    """Runs the demo that defines `make_scene` once per method in `names`, at most `jobs` processes at a time.

    Args:
        make_scene: The demo's scene factory; its source file is the script the workers run.
        argv: The demo's command line; each worker appends `--methods <name> --out <out>` and the worker flags.
        out: The output folder whose checkpoints the workers write.
    """
    script = inspect.getsourcefile(make_scene)
    commands = [(script, [*argv, '--methods', name, '--out', out, *WORKER_FLAGS]) for name in names]
    table.run_grid(run_script, commands, jobs)


def run_script(command: tuple):
    """Runs the `main(argv)` of the demo script `command = (path, argv)` (in a worker process)."""
    path, argv = command
    runpy.run_path(path, run_name='phi_inverse_worker')['main'](argv)
