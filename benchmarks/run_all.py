"""Every benchmark ratio in one run, as one table.

    python benchmarks/run_all.py [--repeat 20] [--device gpu]

Each ratio compares two computations measured in this run, alternating their calls (see phi_inverse.experiments.timing).
Training steps run on PyTorch (the default backend); the JIT rows compare eager and compiled steps on every
installed ML backend; the framework row compares phi_inverse's Poisson SIP step with the same step written in
plain PyTorch; the heat SMDP rows compare its compiled training step with eager PhiML and plain PyTorch.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fluid  # noqa: E402
import framework_overhead  # noqa: E402
import heat  # noqa: E402
import heat_training  # noqa: E402
import jit  # noqa: E402
import lowdim  # noqa: E402
import poisson  # noqa: E402
import smdp  # noqa: E402
from table import print_table  # noqa: E402

from phi_inverse.support import backends  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=20, help='timed repetitions per measurement')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    parser.add_argument('--lbfgs-iterations', type=int, default=100, help='L-BFGS-B iterations per heat example (paper: 1000)')
    args = parser.parse_args(argv)
    backend = backends.select('torch', args.device)
    table = []
    table += poisson.solver_rows(64, 128, args.repeat)
    table += poisson.training_rows(32, 32, args.repeat)
    table += heat.inverse_rows(64, 128, args.repeat)
    table += heat.training_rows(32, 32, args.repeat)
    table += heat.inference_rows(64, 128, args.lbfgs_iterations, examples=2)
    table += lowdim.update_rows(100, args.repeat)
    table += lowdim.training_rows(100, args.repeat)
    table += jit.rows(32, 32, args.repeat)
    table += framework_overhead.rows(32, 32, args.repeat, args.device)
    table += fluid.rows(64, 64, min(args.repeat, 5))  # an eager JAX step at 64x64 takes seconds
    table += fluid.training_rows(32, 8, min(args.repeat, 5))
    table += smdp.rows(args.repeat)
    table += heat_training.rows(8, 16, 32, args.repeat)
    print_table(f'phi_inverse benchmarks (default backend torch on {backends.describe_device(backend)})', table)
    return table


if __name__ == '__main__':
    main()
