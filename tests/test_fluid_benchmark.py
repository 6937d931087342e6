"""benchmarks/fluid.py runs: its row functions return complete rows at a tiny size (no timing checks)."""
import math
import os
import sys

import pytest

from .physics.fluid_cases import single_torch_thread  # noqa: F401 (autouse fixture)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'benchmarks'))


@pytest.mark.parametrize('rows', ['step', 'training'])
def test_fluid_benchmark_rows_are_complete(rows, torch_backend):
    import fluid
    table = fluid.rows(16, 2, 1, names=('torch',)) if rows == 'step' else fluid.training_rows(16, 2, 1)
    assert len(table) == 1
    for row in table:
        assert set(row) == {'name', 'baseline', 'value', 'ratio', 'aim'}
        assert row['baseline'] > 0 and row['value'] > 0 and math.isclose(row['ratio'], row['value'] / row['baseline'])
