"""The SMDP demos, tiny, on every installed ML backend: metrics.json keys and figures."""
import json

import pytest

from tests.test_demo import load_demo


def test_toy_sde_demo_writes_q_per_method(tmp_path, ml_backend):
    toy = load_demo('toy_sde')
    methods = 'multi-step,1-step,ism,ssm-vr' if ml_backend.name == 'torch' else 'multi-step,ssm-vr'  # 500 eager reverse steps per sampler
    toy.main(['--backend', ml_backend.name, '--steps', '2', '--eval-every', '2', '--batch', '32', '--test-size', '20',
              '--data-fraction', '0.01', '--methods', methods, '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['backend'] == ml_backend.name and metrics['config']['trajectories'] == 25 and metrics['config']['steps'] == 2
    assert list(metrics['methods']) == methods.split(',')
    for entry in metrics['methods'].values():
        assert set(entry['final']) >= {'posterior_q_ode', 'posterior_q_sde'} and any(k.startswith('posterior_q_ode_c') for k in entry['final'])
        assert entry['curve']['step'] == [0, 2] and all(0 <= q <= 1 for q in entry['final'].values())
        assert entry['correction_factors'] == ({'ode': 1., 'sde': 1.} if entry['model'] == 'multi-step' else {'ode': .5, 'sde': 1.})
    assert metrics['figures'] == ['learning_curves.png', 'correction_field.png', 'trajectories.png', 'posterior_q.png']
    assert all((tmp_path / f).stat().st_size > 10_000 for f in metrics['figures'])


def test_toy_sde_table_aggregates_seeds_beside_the_paper(tmp_path, torch_backend):
    toy = load_demo('toy_sde')
    toy.main(['--table', '--fractions', '0.01', '--seeds', '0,1', '--steps', '2', '--eval-every', '2', '--batch', '32',
              '--test-size', '20', '--methods', 'ism', '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    cell = metrics['methods']['ism']['0.01']['posterior_q_sde']
    runs = [json.loads((tmp_path / 'fraction-0.01' / f'seed-{s}' / 'metrics.json').read_text()) for s in (0, 1)]
    values = [run['methods']['ism']['final']['posterior_q_sde'] for run in runs]
    assert cell['values'] == values and cell['mean'] == pytest.approx(sum(values) / 2) and cell['paper_mean'] == .52
    assert [run['config']['seed'] for run in runs] == [0, 1] and metrics['correction_factors']['ism'] == {'ode': .5, 'sde': 1.}
    table = (tmp_path / 'table.rst').read_text()
    assert '(0.52 ± 0.22)' in table and '(0.01 ± 0.01)' in table


def test_stochastic_heat_demo_writes_mse_and_spectral_error(tmp_path, ml_backend):
    heat = load_demo('stochastic_heat')
    methods = {'torch': 'smdp-ode,smdp-sde,s-only-ode,s-only-sde,supervised,fno,bnn', 'jax': 'smdp-ode,smdp-sde,fno,bnn'}.get(ml_backend.name, 'smdp-ode,smdp-sde,supervised')
    heat.main(['--backend', ml_backend.name, '--steps', '2', '--eval-every', '2', '--batch', '2', '--test-size', '3',
               '--train-size', '4', '--res', '16', '--window', '3', '--samples', '2', '--methods', methods, '--jobs', '1',
               '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert list(metrics['methods']) == methods.split(',')
    for entry in metrics['methods'].values():
        assert set(entry['final']) == {'mse', 'spectral_error', 'mse_clean', 'spectral_error_clean'} and entry['curve']['step'] == [0, 2]
    assert metrics['methods']['smdp-sde']['model'] == metrics['methods']['smdp-ode']['model'] == 'smdp'
    assert {'posterior_samples.png', 'metrics.png', 'error_by_radius.png'} <= set(metrics['figures']) and all((tmp_path / f).exists() for f in metrics['figures'])
    by_radius = {label: sum(error) for label, error in metrics['mse_by_radius'].items()}
    assert by_radius['smdp-ode'] == pytest.approx(metrics['methods']['smdp-ode']['final']['mse'], rel=1e-4)
    assert by_radius['posterior mean'] == pytest.approx(metrics['references']['posterior-mean']['mse'], rel=1e-4)


def test_stochastic_heat_window_ablation_trains_one_window_per_worker(tmp_path, torch_backend):
    heat = load_demo('stochastic_heat')
    flags = ['--steps', '1', '--eval-every', '1', '--batch', '2', '--test-size', '2', '--train-size', '4', '--res', '16',
             '--ablation', '2,3', '--gradient-clip', '10']
    heat.main(flags + ['--jobs', '2', '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert list(metrics['methods']) == ['smdp-s2-ode', 'smdp-s2-sde', 'smdp-s3-ode', 'smdp-s3-sde']
    assert {entry['method']['gradient_clip'] for entry in metrics['methods'].values()} == {10.}
    assert metrics['figures'] == ['learning_curves.png', 'ablation.png']
    worker = heat.main(flags + ['--methods', 'smdp-s3', '--jobs', '1', '--worker', '--out', str(tmp_path / 'worker')])
    assert list(worker.metrics['methods']) == ['smdp-s3-ode', 'smdp-s3-sde']


def test_unknown_method_is_rejected(tmp_path):
    with pytest.raises(SystemExit, match='smdp-ode'):
        load_demo('stochastic_heat').main(['--methods', 'dps', '--out', str(tmp_path)])


@pytest.mark.parametrize('demo_name, flag', [('stochastic_heat', '--modes'), ('stochastic_heat', '--width'),
                                             ('turbulence', '--window'), ('buoyancy', '--train-size')])
def test_network_and_data_sizes_must_be_positive(demo_name, flag, tmp_path, capsys):
    with pytest.raises(SystemExit):
        load_demo(demo_name).main([flag, '0', '--out', str(tmp_path)])
    assert f'{flag}: must be a positive integer but got 0' in capsys.readouterr().err


def test_turbulence_demo_writes_all_five_entries(tmp_path, torch_backend, monkeypatch):
    """The surrogate, on which smdp builds, is trained first even where --methods leaves it out."""
    monkeypatch.setenv('PHI_INVERSE_CACHE', str(tmp_path / 'cache'))
    turbulence = load_demo('turbulence')
    out = tmp_path / 'out'
    turbulence.main(['--steps', '2', '--eval-every', '2', '--batch', '2', '--test-size', '2', '--train-size', '3', '--res', '16',
                     '--window', '3', '--end-time', '3', '--modes', '4', '--width', '4', '--filters', '4', '--out', str(out),
                     '--methods', 'smdp-ode,smdp-sde,simultaneous-ode,simultaneous-sde'])
    metrics = json.loads((out / 'metrics.json').read_text())
    assert list(metrics['methods']) == ['surrogate-only', 'smdp-ode', 'smdp-sde', 'simultaneous-ode', 'simultaneous-sde']
    for entry in metrics['methods'].values():
        assert set(entry['final']) == {'mse', 'spectral_error'} and entry['curve']['step'] == [0, 2]
    assert metrics['figures'] == ['learning_curves.png', 'trajectories_1.png', 'trajectories_2.png', 'power_spectra.png']
    assert all((out / f).exists() for f in metrics['figures'])


@pytest.mark.parametrize('backend_name', ['torch', 'jax'])
def test_buoyancy_demo_records_trained_and_untrained_methods(tmp_path, monkeypatch, backend_name):
    """One training step moves smdp away from its zero-started correction, i.e. from reverse-only (the gradient
    reaches the network through the reverse physics and its custom projection gradient on both backends)."""
    pytest.importorskip(backend_name)
    monkeypatch.setenv('PHI_INVERSE_CACHE', str(tmp_path / 'cache'))
    buoyancy = load_demo('buoyancy')
    buoyancy.main(['--backend', backend_name, '--steps', '1', '--eval-every', '1', '--batch', '2', '--test-size', '2',
                   '--train-size', '2', '--res', '16', '--window', '2', '--methods', 'smdp-ode', '--baselines', 'reverse-only',
                   '--out', str(tmp_path)])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['backend'] == backend_name and list(metrics['methods']) == ['smdp-ode', 'reverse-only']
    for entry in metrics['methods'].values():
        assert {'mse', 'mse_state', 'spectral_error', 'ssim'} <= set(entry['final'])
    trained, untrained = (metrics['methods'][m]['final']['mse_state'] for m in ('smdp-ode', 'reverse-only'))
    assert metrics['methods']['smdp-ode']['curve']['mse_state'][0] == pytest.approx(untrained, rel=1e-4)
    assert trained != pytest.approx(untrained, rel=1e-6)
    assert metrics['methods']['reverse-only']['model'] is None and 'curve' not in metrics['methods']['reverse-only']
    assert metrics['figures'] == ['learning_curves.png', 'smoke.png', 'velocity_x.png']
