import json

import pytest

from tests.test_demo import load_demo

pytestmark = pytest.mark.usefixtures('single_torch_thread')

SMALL = ['--eval-every', '1', '--batch', '10', '--test-size', '20']


@pytest.fixture(autouse=True)
def torch_installed():
    pytest.importorskip('torch')


def metrics_of(path):
    return json.loads((path / 'metrics.json').read_text())


def test_sine_demo_at_equal_steps(tmp_path):
    load_demo('sine_characterization').main(['--equal', 'steps', '--steps', '3', '--methods', 'sip,adam,adadelta', '--out', str(tmp_path)] + SMALL)
    metrics = metrics_of(tmp_path)
    assert metrics['config']['xi'] == 32 and metrics['config']['phi'] == 45 and 'time_budget' not in metrics['config']
    assert list(metrics['methods']) == ['sip', 'adam', 'adadelta']
    assert all(m['curve']['step'] == [0, 1, 2, 3] and 'x_dist' in m['final'] for m in metrics['methods'].values())
    assert all((tmp_path / figure).stat().st_size > 10_000 for figure in metrics['figures'])


def test_sine_demo_at_equal_wall_time(tmp_path):
    load_demo('sine_characterization').main(['--time-budget', '.3', '--xi', '4', '--phi', '10', '--methods', 'sip,sgd', '--out', str(tmp_path)] + SMALL)
    metrics = metrics_of(tmp_path)
    assert metrics['config']['time_budget'] == .3 and metrics['config']['xi'] == 4
    for entry in metrics['methods'].values():
        assert entry['curve']['wall_time'][-1] >= .3 and entry['steps'] == entry['curve']['step'][-1] >= 1


def test_sine_sweep_draws_conditioning_and_coupling(tmp_path):
    metrics = load_demo('sine_characterization').main(['--sweep', '--equal', 'steps', '--steps', '2', '--sweep-xi', '1,32',
                                                       '--sweep-phi', '0,45', '--methods', 'sip,adam', '--out', str(tmp_path)] + SMALL)
    assert metrics == metrics_of(tmp_path)
    for entry in metrics['methods'].values():
        assert entry['xi_sweep']['xi'] == [1, 32] and entry['phi_sweep']['phi'] == [0, 45]
        assert len(entry['xi_sweep']['x_dist']) == 2 and all(d > 0 for d in entry['phi_sweep']['x_dist'])
    assert (tmp_path / 'sweep.png').stat().st_size > 10_000


def test_exponential_demo_reports_the_small_target_error(tmp_path):
    load_demo('exponential').main(['--steps', '3', '--methods', 'adam,rescaled,newton', '--out', str(tmp_path)] + SMALL)
    metrics = metrics_of(tmp_path)
    assert all('x_mae_tail' in m['final'] and len(m['error_by_x']['x_pred']) == 241 for m in metrics['methods'].values())
    assert metrics['figures'] == ['learning_curves.png', 'inversion.png']


def test_wave_packet_demo_compares_with_lbfgsb_and_chance(tmp_path):
    load_demo('wave_packet').main(['--steps', '2', '--lbfgsb-iterations', '5', '--out', str(tmp_path)] + SMALL)
    metrics = metrics_of(tmp_path)
    assert set(metrics['methods']) == {'adam', 'lbfgsb', 'random'}
    assert all(0 <= m['final']['localised'] <= 1 for m in metrics['methods'].values())
    assert (tmp_path / 'localisation.png').stat().st_size > 10_000
