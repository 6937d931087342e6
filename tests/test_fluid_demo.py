import json

import pytest

from .test_demo import load_demo

pytestmark = pytest.mark.usefixtures('single_torch_thread')


def test_fluid_demo_writes_metrics_figures_and_the_iterative_baseline(tmp_path):
    pytest.importorskip('torch')
    fluid = load_demo('fluid')
    fluid.main(['--steps', '1', '--eval-every', '1', '--res', '16', '--batch', '2', '--test-size', '2', '--iterations', '2',
                '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['scene'] == 'fluid' and metrics['config']['res'] == 16 and metrics['config']['dt'] == .25
    assert (metrics['config']['time_steps'], metrics['config']['steps']) == (8, 1)
    assert list(metrics['methods']) == ['sip', 'adam']
    assert all(m['curve']['step'] == [0, 1] and m['inference_seconds_per_example'] > 0 for m in metrics['methods'].values())
    history = metrics['iterative_estimator']['history']
    assert [h['iteration'] for h in history] == [0, 1, 2] and history[2]['x_mae'] < history[0]['x_mae']
    assert metrics['figures'] == ['learning_curves.png', 'examples.png']
    assert all((tmp_path / f).stat().st_size > 10_000 for f in metrics['figures'])


def test_paper_flag_gives_the_paper_configuration():
    from phi_inverse.experiments import demo
    fluid = load_demo('fluid')
    parser = demo.argument_parser('test', fluid.DEFAULTS, fluid.PAPER, ('sip', 'adam'))
    paper, default = demo.parse(parser, ['--paper'], 'fluid'), demo.parse(parser, [], 'fluid')
    assert (paper.res, paper.batch) == (64, 64) and (default.res, default.batch) == (32, 8)
