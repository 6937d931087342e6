import importlib.util
import json
import os

import pytest

from phi_inverse.experiments import demo

DEMOS = os.path.join(os.path.dirname(__file__), '..', 'demos')


def load_demo(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(DEMOS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_poisson_demo_writes_metrics_and_figures(tmp_path):
    pytest.importorskip('torch')
    poisson = load_demo('poisson')
    poisson.main(['--steps', '2', '--eval-every', '1', '--res', '16', '--batch', '4', '--test-size', '4',
                  '--methods', 'sip,adam', '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['config']['res'] == 16 and metrics['config']['steps'] == 2 and metrics['config']['batch'] == 4
    assert list(metrics['methods']) == ['sip', 'adam']
    assert all(m['curve']['step'] == [0, 1, 2] for m in metrics['methods'].values())
    assert metrics['figures'] == ['learning_curves.png', 'examples.png']
    assert all((tmp_path / f).stat().st_size > 10_000 for f in metrics['figures'])


def test_demo_resume_extends_the_run(tmp_path):
    pytest.importorskip('torch')
    poisson = load_demo('poisson')
    flags = ['--eval-every', '1', '--res', '16', '--batch', '4', '--test-size', '4', '--methods', 'sip', '--out', str(tmp_path)]
    poisson.main(['--steps', '1'] + flags)
    poisson.main(['--steps', '3', '--resume'] + flags)
    curve = json.loads((tmp_path / 'metrics.json').read_text())['methods']['sip']['curve']
    assert curve['step'] == [0, 1, 2, 3]


def test_paper_flag_switches_configuration_and_explicit_flags_win():
    poisson = load_demo('poisson')
    parser = demo.argument_parser('test', poisson.DEFAULTS, poisson.PAPER, ('sip', 'adam'))
    paper = demo.parse(parser, ['--paper'], 'poisson')
    assert (paper.res, paper.batch, paper.steps) == (64, 128, 5000)
    assert paper.out == os.path.join('results', 'poisson-paper')
    mixed = demo.parse(parser, ['--paper', '--steps', '7', '--lr', 'adam=1e-4'], 'poisson')
    assert (mixed.res, mixed.steps, mixed.lr) == (64, 7, {'adam': 1e-4})
    default = demo.parse(parser, [], 'poisson')
    assert (default.res, default.batch, default.methods) == (32, 32, ['sip', 'adam'])


def test_unknown_method_lists_the_available_ones():
    from phi_inverse.experiments.scenes.poisson import PoissonScene
    with pytest.raises(SystemExit, match='sip, adam, sgd'):
        demo.select_methods(PoissonScene.methods, ['sip', 'lbfgs'], {})


def test_learning_rate_override_applies_to_the_method():
    from phi_inverse.experiments.scenes.poisson import PoissonScene
    methods = demo.select_methods(PoissonScene.methods, ['sgd'], {'sgd': 1e-12})
    assert methods['sgd'].learning_rate == 1e-12 and methods['sgd'].momentum == .9


def test_bad_flag_values_are_rejected():
    poisson = load_demo('poisson')
    parser = demo.argument_parser('test', poisson.DEFAULTS, poisson.PAPER, ('sip',))
    with pytest.raises(SystemExit):
        demo.parse(parser, ['--batch', '0'], 'poisson')
    with pytest.raises(SystemExit, match='method=value'):
        demo.parse(parser, ['--lr', 'sgd'], 'poisson')
    with pytest.raises(SystemExit):
        demo.parse(parser, ['--backend', 'mxnet'], 'poisson')


def test_summary_reports_ratio_to_sip():
    metrics = {'methods': {'sip': {'final': {'x_mae': .1, 'y_loss': 1.}, 'seconds_per_step': .01},
                           'adam': {'final': {'x_mae': .25, 'y_loss': 2.}, 'seconds_per_step': .01, 'diverged_at': 5}}}
    table = demo.summary(metrics)
    assert '2.50' in table and 'diverged at step 5' in table


@pytest.mark.parametrize('threads', [None, 1])
def test_help_states_each_default_once_and_the_one_that_applies(threads):
    poisson = load_demo('poisson')
    parser = demo.argument_parser('test', {**poisson.DEFAULTS, 'threads': threads}, poisson.PAPER, ('sip',))
    text = ' '.join(parser.format_help().split())
    assert '(default: None)' not in text
    assert text.count('(default 500)') == 1 and '(default 500) (default' not in text
    threads_help = text[text.index('--threads THREADS CPU'):].split('--', 2)[1]
    assert ("backend's choice" in threads_help) == (threads is None)
    assert ('(default: 1)' in threads_help) == (threads == 1)


def test_jobs_train_each_method_in_a_worker_with_the_results_of_one_process(tmp_path, monkeypatch):
    pytest.importorskip('torch')
    from phi_inverse.experiments import methods
    poisson = load_demo('poisson')
    flags = ['--steps', '2', '--eval-every', '1', '--res', '16', '--batch', '4', '--test-size', '4', '--methods', 'sip,adam']
    one = poisson.main(flags + ['--out', str(tmp_path / 'one')]).metrics

    def no_training_here(*args, **kwargs):
        def step(i):
            raise AssertionError('With --jobs the workers train; the parent only records their checkpoints.')
        return step
    monkeypatch.setattr(methods, 'make_step', no_training_here)
    import torch
    from phi_inverse.experiments import plot
    figure_threads, draw = [], plot.learning_curves
    monkeypatch.setattr(plot, 'learning_curves', lambda *a, **k: figure_threads.append(torch.get_num_threads()) or draw(*a, **k))
    two = poisson.main(flags + ['--out', str(tmp_path / 'two'), '--jobs', '2', '--threads', '1']).metrics
    assert figure_threads == [2], 'the figures after the workers should use the cores the workers used'
    for name in ('sip', 'adam'):
        assert two['methods'][name]['curve']['x_mae'] == pytest.approx(one['methods'][name]['curve']['x_mae'], rel=1e-5)
    assert two['figures'] == one['figures'] and sorted(os.listdir(tmp_path / 'two' / 'checkpoints')) == ['adam', 'sip']


def test_jobs_are_refused_where_methods_build_on_each_other():
    from phi_inverse.experiments import parallel

    class Staged:
        name = 'staged'

        def register_network(self, name, net):
            pass
    parallel.check_independent(Staged(), 1)
    with pytest.raises(SystemExit, match='drop --jobs 2'):
        parallel.check_independent(Staged(), 2)
