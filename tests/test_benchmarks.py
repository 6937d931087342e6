"""The benchmark scripts run at a tiny size and their rows are wired to the right measurements (no timing checks)."""
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
import table  # noqa: E402

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
def test_rows_run_and_are_complete(name, torch_backend):
    """A smoke test: each row function runs its computations and reports finite, positive times."""
    for row in ROWS[name]():
        assert set(row) == {'name', 'baseline', 'value', 'ratio', 'aim'} and row['name'] and row['aim']
        assert all(math.isfinite(row[k]) and row[k] > 0 for k in ('baseline', 'value', 'ratio'))


def test_training_step_row_times_the_first_method_against_the_second(torch_backend, monkeypatch):
    """`value` is the first method's step time, `baseline` the second's, and each method's own step is what runs."""
    from phi_inverse.experiments.scenes.poisson import PoissonScene
    calls = []

    def fake_medians(functions, repeat, warmup):
        for name, function in functions.items():
            calls.append((name, function()))
        return {'sip': 3., 'adam': 2.}
    monkeypatch.setattr(table, 'interleaved_medians', fake_medians)
    row = table.training_step_row(PoissonScene(res=8), 2, 1, 'poisson step', '< 1.1')
    assert (row['baseline'], row['value'], row['ratio']) == (2., 3., 1.5)
    assert [name for name, _ in calls] == ['sip', 'adam']
    sip_loss, adam_loss = [loss for _, loss in calls]
    assert sip_loss != adam_loss, 'the SIP and Adam steps minimise different losses on the same batch'
