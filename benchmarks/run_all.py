"""Every benchmark ratio in one run, as one table.

    python benchmarks/run_all.py [--repeat 20] [--quick]

Each ratio compares two computations measured in this run, alternating their calls (see phi_inverse.timing).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import framework_overhead  # noqa: E402
import jit  # noqa: E402
import poisson  # noqa: E402
import smdp  # noqa: E402
from table import print_table  # noqa: E402

from phi_inverse import backends  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=20, help='timed repetitions per measurement')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    args = parser.parse_args(argv)
    backend = backends.select('torch', args.device)
    table = []
    table += poisson.solver_rows(64, 128, args.repeat)
    table += poisson.training_rows(32, 32, args.repeat)
    table += jit.rows(32, 32, args.repeat)
    table += framework_overhead.rows(32, 32, args.repeat, args.device)
    table += smdp.rows(args.repeat)
    print_table(f'phi_inverse benchmarks (default backend torch on {backends.describe_device(backend)})', table)
    return table


if __name__ == '__main__':
    main()
