import numpy as np
import pytest
from phi import math

from phi_inverse.experiments.scenes import buoyancy_data as data
from phi_inverse.experiments.scenes.buoyancy import BuoyancyScene
from phi_inverse.experiments.scenes.buoyancy_metrics import ssim
from phi_inverse.physics import TIME, buoyancy


@pytest.fixture
def scene(tmp_path, monkeypatch, torch_backend):
    monkeypatch.setenv('PHI_INVERSE_CACHE', str(tmp_path))
    return BuoyancyScene(train_size=2, test_size=2, resolution=16, window=3, filters=4, blocks=1, lbfgs_iterations=1)


def test_data_is_cached_by_its_settings_and_keeps_the_last_frames(scene, tmp_path, capsys):
    assert scene.train['smoke'].shape == (2, data.END_STEP - data.START_STEP + 1, 16, 16)
    assert scene.train['velocity_x'].shape == (2, 31, 15, 16) and scene.train['velocity_y'].shape == (2, 31, 16, 15)
    assert np.all(np.isfinite(scene.train['smoke'])) and scene.train['smoke'][:, -1].max() > .1
    assert not np.allclose(scene.train['box_lower'], scene.test['box_lower'])
    capsys.readouterr()
    again = BuoyancyScene(train_size=2, test_size=2, resolution=16, window=3, filters=4, blocks=1)
    assert capsys.readouterr().out.count('loaded cached data') == 2
    np.testing.assert_array_equal(again.train['smoke'], scene.train['smoke'])


@pytest.mark.parametrize('settings', [dict(noise=-.01), dict(diffusion=-.1)])
def test_negative_noise_is_refused_before_any_data_is_simulated(settings, tmp_path, monkeypatch):
    monkeypatch.setenv('PHI_INVERSE_CACHE', str(tmp_path))
    with pytest.raises(ValueError, match='must be ≥ 0'):
        BuoyancyScene(train_size=2, test_size=2, resolution=16, **settings)
    assert not list(tmp_path.iterdir())


def test_obstacles_avoid_the_inflow_and_fill_one_to_two_slots():
    obstacles = data.random_obstacles(np.random.default_rng(3), 200)
    boxes = np.sum(np.all(obstacles['box_upper'] > obstacles['box_lower'], -1), -1)
    spheres = np.sum(obstacles['sphere_radius'] > 0, -1)
    assert set(boxes) == {1, 2} and set(spheres) == {1, 2}
    used = np.all(obstacles['box_upper'] > obstacles['box_lower'], -1)
    lower, upper = obstacles['box_lower'][used], obstacles['box_upper'][used]
    near = np.array(buoyancy.INFLOW_CENTER)
    assert not np.any(np.all(lower <= near + 10, -1) & np.all(upper >= near - 10, -1))


def test_windows_are_flow_states_noisy_at_the_rollout_start_and_the_loss_trains(scene):
    window, times, *parameters = scene.windows(3, 2, seed=0)
    assert isinstance(window, buoyancy.FlowState) and window.smoke.shape.get_size(TIME) == 3
    rng = np.random.default_rng(0)
    simulation, start = rng.integers(0, 2, 2), int(rng.integers(0, 31 + 1 - 3))
    clean = scene.train['smoke'][simulation, start:start + 3]
    noise = window.smoke.values.numpy(f'examples,{TIME},x,y') - clean
    assert np.std(noise[:, -1]) == pytest.approx(scene.noise, rel=.1)
    np.testing.assert_allclose(noise[:, :-1], 0, atol=1e-6)
    math.assert_close(times, scene.times()[{TIME: slice(start, start + 3)}])
    loss = scene.multi_step_loss(scene.correction_network(), reverse_physics=True)(window, times, *parameters)
    assert np.isfinite(float(loss)) and float(loss) > 0


def test_fresh_correction_is_zero_so_smdp_starts_as_the_reverse_physics(scene):
    window, times, *parameters = scene.windows(3, 2, seed=0)
    correction = scene.correction(scene.correction_network(), parameters)(window[{TIME: -1}], times[{TIME: -1}])
    assert float(math.max(abs(correction.smoke.values), correction.smoke.values.shape)) == 0
    assert float(math.max(abs(correction.velocity.values), correction.velocity.values.shape)) == 0


def test_reverse_only_baseline_records_every_metric(scene):
    values, reconstruction = scene.evaluate_baseline('reverse-only')
    assert set(values) == {'mse', 'mse_state', 'mse_velocity', 'spectral_error', 'ssim'}
    assert all(np.isfinite(v) for v in values.values())
    assert reconstruction.smoke.shape.get_size('examples') == 2


def test_ssim_is_one_for_equal_images_and_lower_for_noise():
    rng = np.random.default_rng(0)
    image = rng.random((2, 16, 16))
    np.testing.assert_allclose(ssim(image, image), 1, rtol=1e-6)
    assert np.all(ssim(image + rng.normal(0, .3, image.shape), image) < .9)
