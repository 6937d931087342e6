import json

import pytest

from tests.test_demo import load_demo


def test_heat_demo_writes_metrics_with_iterative_solvers_and_figures(tmp_path):
    pytest.importorskip('torch')
    heat = load_demo('heat')
    heat.main(['--steps', '2', '--eval-every', '1', '--res', '16', '--batch', '4', '--test-size', '4', '--methods', 'sip,adam',
               '--iterations', '2', '--solver-examples', '1', '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['scene'] == 'heat' and metrics['config']['res'] == 16 and metrics['config']['amount'] == 8.
    assert list(metrics['methods']) == ['sip', 'adam']
    assert all(m['curve']['step'] == [0, 1, 2] for m in metrics['methods'].values())
    iterative = metrics['iterative']
    assert set(iterative['networks']) == {'sip', 'adam'} and set(iterative['solvers']) == {'gd', 'l-bfgs-b'}
    assert metrics['figures'] == ['learning_curves.png', 'iterative.png', 'examples.png']
    assert all((tmp_path / f).stat().st_size > 10_000 for f in metrics['figures'])


def test_paper_configuration():
    from phi_inverse.experiments import demo
    heat = load_demo('heat')
    parser = heat.make_parser()
    paper = demo.parse(parser, ['--paper'], 'heat')
    assert (paper.res, paper.batch, paper.iterations, paper.solver_examples) == (64, 128, 1000, 128)
    default = demo.parse(parser, [], 'heat')
    assert (default.res, default.batch, default.iterations, default.methods) == (32, 32, 100, ['sip', 'adam', 'sgd'])
