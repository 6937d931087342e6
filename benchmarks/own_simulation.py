"""Own-simulation benchmarks: a SIP training step with the Gauss–Newton–Krylov update vs an Adam step.

    python benchmarks/own_simulation.py                      # PyTorch, 24x24, batch 8, both simulations
    python benchmarks/own_simulation.py --backend jax --repeat 30

Both steps train the same U-net on the same batches; the SIP step simulates, runs the Krylov solve and
backpropagates `½‖x̂ − sg(x̂ + Δx)‖²`, the Adam step backpropagates `½‖P(x̂) − y*‖²` through the simulation.
Each pair is measured in one run, alternating the two steps, with the whole step eager (the scene's physics is
compiled for the grid) and, in the `--jit` rows, compiled as a whole.
"""
import argparse


from phi_inverse.support import backends
from phi_inverse.experiments.methods import start_training
from phi_inverse.experiments.scenes.own_simulation import SIMULATIONS, OwnSimulationScene
from phi_inverse.experiments.timing import interleaved_medians
from table import print_table, row

AIM = '<= 3'


def training_rows(res: int, size: int, repeat: int, simulations=SIMULATIONS, jit_modes=(False, True), warmup: int = 3) -> list:
    rows = []
    for simulation in simulations:
        scene = OwnSimulationScene.for_simulation(simulation, res=res)
        for jit in jit_modes:
            times = step_times(scene, size, repeat, jit, warmup)
            rows.append(row(f"{simulation} training step {res}x{res}, batch {size}{', jit' if jit else ''}: SIP / Adam",
                            times['adam'], times['sip'], AIM))
    return rows


def step_times(scene, size: int, repeat: int, jit: bool, warmup: int) -> dict:
    steps, counter = {}, {}
    for method in ('sip', 'adam'):
        steps[method] = start_training(scene, scene.methods[method], size, seed=0, steps=10 ** 6, jit=jit)[2]
        counter[method] = 0

    def timed(method):
        counter[method] += 1
        return steps[method](counter[method])
    return interleaved_medians({method: (lambda m=method: timed(m)) for method in steps}, repeat, warmup)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', default='torch', choices=('torch', 'tensorflow', 'jax'))
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    parser.add_argument('--res', type=int, default=24)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--simulations', default=','.join(SIMULATIONS))
    args = parser.parse_args(argv)
    backend = backends.select(args.backend, args.device)
    table = training_rows(args.res, args.batch, args.repeat, args.simulations.split(','))
    print_table(f'Own-simulation benchmarks on {backend.name} ({backends.describe_device(backend)})', table)
    return table


if __name__ == '__main__':
    main()
