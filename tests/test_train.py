import pytest

from phi_inverse.support.checkpoint import Checkpoint
from phi_inverse.experiments.train import TrainingDiverged, train


class Counter:
    """A fake model: `step` adds one, `evaluate` reports the count. Its state is checkpointed as JSON progress only."""

    def __init__(self):
        self.value = 0.

    def step(self, i):
        self.value += 1
        return 1. / (i + 1)

    def evaluate(self):
        return {'count': self.value}


def test_evaluates_at_start_interval_and_end():
    counter = Counter()
    result = train(counter.step, counter.evaluate, steps=7, eval_every=3)
    assert result.curve['step'] == [0, 3, 6, 7]
    assert result.curve['count'] == [0, 3, 6, 7]
    assert result.final == {'count': 7}
    assert len(result.step_times) == 7
    assert result.curve['wall_time'] == sorted(result.curve['wall_time'])
    assert result.seconds_per_step >= 0


def test_zero_steps_only_evaluates():
    counter = Counter()
    result = train(counter.step, counter.evaluate, steps=0, eval_every=3)
    assert result.curve['step'] == [0] and result.steps_done == 0


def test_nan_loss_stops_training_with_the_step():
    def step(i):
        return float('nan') if i == 4 else 1.

    with pytest.raises(TrainingDiverged, match='step 4') as error:
        train(step, lambda: {}, steps=10, eval_every=2, divergence_hint='Try lr 1e-4.')
    assert error.value.step == 4 and 'Try lr 1e-4.' in str(error.value)


def test_invalid_interval_is_rejected():
    with pytest.raises(ValueError, match='eval_every'):
        train(lambda i: 0., lambda: {}, steps=3, eval_every=0)


def test_evaluation_callback_sees_growing_curve():
    seen = []
    train(lambda i: 0., lambda: {'m': 1.}, steps=4, eval_every=2, on_evaluation=lambda r: seen.append(list(r.curve['step'])))
    assert seen == [[0], [0, 2], [0, 2, 4]]


def test_resume_continues_steps_and_timings(tmp_path):
    checkpoint = Checkpoint(str(tmp_path), {})
    first = train(lambda i: 0., lambda: {'m': 0.}, steps=4, eval_every=2, checkpoint=checkpoint)
    visited = []
    resumed = train(lambda i: visited.append(i) or 0., lambda: {'m': 0.}, steps=6, eval_every=2, checkpoint=checkpoint, resume=True)
    assert visited == [4, 5]
    assert resumed.curve['step'] == [0, 2, 4, 6]
    assert resumed.step_times[:4] == first.step_times


def test_resume_without_checkpoint_starts_fresh(tmp_path):
    result = train(lambda i: 0., lambda: {}, steps=2, eval_every=1, checkpoint=Checkpoint(str(tmp_path / 'none'), {}), resume=True)
    assert result.curve['step'] == [0, 1, 2]


def test_time_budget_stops_training_and_evaluates_at_the_end(monkeypatch):
    """A fake clock advancing 0.5 s per reading makes every step take 0.5 s: a 2 s budget allows 4 steps."""
    import itertools
    from phi_inverse.experiments import train as train_module
    clock = itertools.count(0., .5)
    monkeypatch.setattr(train_module.time, 'perf_counter', lambda: next(clock))
    counter = Counter()
    result = train(counter.step, counter.evaluate, steps=100, eval_every=3, time_budget=2.)
    assert counter.value == 4
    assert result.curve['step'] == [0, 3, 4]
    assert result.curve['wall_time'] == [0., 1.5, 2.]


def test_time_budget_is_shared_with_the_resumed_run(monkeypatch, tmp_path):
    import itertools
    from phi_inverse.experiments import train as train_module
    clock = itertools.count(0., .5)
    monkeypatch.setattr(train_module.time, 'perf_counter', lambda: next(clock))
    checkpoint = Checkpoint(str(tmp_path), {})
    train(lambda i: 0., lambda: {}, steps=2, eval_every=1, checkpoint=checkpoint, time_budget=2.)
    visited = []
    resumed = train(lambda i: visited.append(i) or 0., lambda: {}, steps=100, eval_every=10, checkpoint=checkpoint, resume=True, time_budget=2.)
    assert visited == [2, 3] and resumed.curve['step'] == [0, 1, 2, 4]


def test_steps_bound_a_time_budget():
    result = train(lambda i: 0., lambda: {}, steps=3, eval_every=10, time_budget=1e9)
    assert result.curve['step'] == [0, 3]
