"""The benchmark scripts run: every row function returns a complete row at a tiny size (no timing checks)."""
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'benchmarks'))

pytest.importorskip('torch')
import fluid  # noqa: E402
import heat  # noqa: E402
import lowdim  # noqa: E402
import poisson  # noqa: E402

ROWS = {
    'poisson solver': lambda: poisson.solver_rows(8, 2, 1),
    'poisson training': lambda: poisson.training_rows(8, 2, 1),
    'heat inverse': lambda: heat.inverse_rows(8, 2, 1),
    'heat training': lambda: heat.training_rows(8, 2, 1),
    'heat inference': lambda: heat.inference_rows(8, 2, iterations=2, examples=1),
    'lowdim update': lambda: lowdim.update_rows(4, 1),
    'lowdim training': lambda: lowdim.training_rows(4, 1),
    'fluid step': lambda: fluid.rows(16, 2, 1, names=('torch',)),
    'fluid training': lambda: fluid.training_rows(16, 2, 1),
}


@pytest.mark.parametrize('name', sorted(ROWS))
def test_rows_are_complete(name, torch_backend):
    for row in ROWS[name]():
        assert set(row) == {'name', 'baseline', 'value', 'ratio', 'aim'}
        assert row['baseline'] > 0 and row['value'] > 0 and math.isclose(row['ratio'], row['value'] / row['baseline'])
