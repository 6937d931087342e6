import json

from phi_inverse.experiments.smdp_runner import Runner


def test_one_model_records_each_of_its_methods(tmp_path, torch_backend):
    runner = Runner('scene', str(tmp_path), {'steps': 4})
    counter = {'value': 0}

    def step(i):
        counter['value'] += 1
        return 1. / (i + 1)

    def evaluate():
        return {'a-ode': {'mse': counter['value']}, 'a-sde': {'mse': 2 * counter['value'], 'spectral_error': -1}, 'other': {'mse': 0}}
    runner.train('a', ['a-ode', 'a-sde'], step, evaluate, steps=4, eval_every=2)
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert list(metrics['methods']) == ['a-ode', 'a-sde']
    assert metrics['methods']['a-ode']['curve'] == {'step': [0, 2, 4], 'wall_time': metrics['methods']['a-ode']['curve']['wall_time'], 'mse': [0, 2, 4]}
    assert metrics['methods']['a-sde']['final'] == {'mse': 8, 'spectral_error': -1}
    assert metrics['methods']['a-sde']['model'] == 'a' and metrics['methods']['a-sde']['seconds_per_step'] >= 0
    assert metrics['backend'] == 'torch' and metrics['config'] == {'steps': 4}


def test_diverging_model_is_recorded_and_does_not_stop_the_run(tmp_path, torch_backend):
    runner = Runner('scene', str(tmp_path))
    result = runner.train('b', ['b-ode'], lambda i: float('nan') if i == 1 else 1., lambda: {'b-ode': {'mse': 1.}}, steps=3, eval_every=1)
    assert result is None and runner.metrics['methods']['b-ode']['diverged_at'] == 1


def test_resume_continues_the_curve(tmp_path, torch_backend):
    def run(steps, resume):
        runner = Runner('scene', str(tmp_path))
        runner.train('c', ['c-ode'], lambda i: 1., lambda: {'c-ode': {'mse': 1.}}, steps=steps, eval_every=1, resume=resume)
        return runner.metrics['methods']['c-ode']['curve']['step']
    assert run(2, False) == [0, 1, 2]
    assert run(4, True) == [0, 1, 2, 3, 4]
