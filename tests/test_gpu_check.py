"""`benchmarks/gpu_check.py` in smoke mode (CPU against CPU): it runs and its rows are complete (no timing checks)."""
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'benchmarks'))

pytest.importorskip('torch')
import gpu_check  # noqa: E402


def test_smoke_mode_rows_are_complete_and_cpu_runs_agree(torch_backend, capsys):
    """Two identically seeded CPU runs give equal losses; each row has both runs' losses, times and host-copy counts.

    Catches a check that compares a run with itself (the two runs must be separate trainings of the same length),
    loses steps, or drops the smoke-mode notice.
    """
    table = gpu_check.rows(('torch',), scenes=('poisson', 'toy_sde'), warmup=1, steps=2, smoke=True)
    gpu_check.print_report(table)
    assert gpu_check.SMOKE_NOTE in capsys.readouterr().out
    assert [row['scene'] for row in table] == ['poisson', 'toy_sde']
    for row in table:
        assert {'name', 'baseline', 'value', 'ratio', 'aim'} <= set(row) and '(smoke)' in row['devices']
        assert all(math.isfinite(row[k]) and row[k] > 0 for k in ('baseline', 'value', 'ratio'))
        assert len(row['cpu_losses']) == len(row['gpu_losses']) == 3
        assert row['cpu_losses'] == row['gpu_losses'] and row['agree'] and row['max_relative_deviation'] == 0
        assert len(set(row['cpu_losses'])) == 3, 'each step trains on a new batch with updated weights'
        assert '_local_scalar_dense' in row['cpu_host_copies'] and '_local_scalar_dense' in row['gpu_host_copies']


def test_disagreeing_losses_are_reported(torch_backend, monkeypatch):
    """A GPU run whose losses deviate beyond `rtol` is marked as disagreeing, with the deviation it measured."""
    real_train = gpu_check.train
    calls = []

    def train(backend, device, *args):
        result = real_train(backend, device, *args)
        calls.append(device)
        if len(calls) == 2:
            result['losses'] = [loss * 1.01 for loss in result['losses']]
        return result
    monkeypatch.setattr(gpu_check, 'train', train)
    row = gpu_check.rows(('torch',), scenes=('toy_sde',), warmup=1, steps=1, rtol=1e-3, smoke=True)[0]
    assert not row['agree'] and row['max_relative_deviation'] == pytest.approx(.01, rel=1e-4)
