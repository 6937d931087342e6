import numpy as np
import pytest
from phi import math

from phi_inverse.support import backends
from phi_inverse.physics import vortex
from phi_inverse.experiments.scenes.fluid import FluidScene

pytestmark = pytest.mark.usefixtures('single_torch_thread')


def small_scene() -> FluidScene:
    """16x16 cells on the paper's 128-unit domain, two steps of the paper's dt."""
    return FluidScene(res=16, duration=.5, steps=2)


@pytest.fixture(scope='module')
def scene_and_batch():
    pytest.importorskip('torch')
    with backends.get('torch'):
        scene = small_scene()
        return scene, scene.sample(4, seed=1)


def test_data_follow_the_specification(scene_and_batch):
    scene, batch = scene_and_batch
    marker = batch.condition.values.numpy('examples,x,y')
    assert marker.min() >= 0 and marker.max() <= 1
    fill = (marker > .5).mean(axis=(1, 2))
    assert np.all((fill > .02) & (fill < .2)), fill
    translation, strength = vortex.fit_translation_and_vortex(batch.x, scene.centre, scene.vortex_width)
    expected = vortex.minimum_image(scene.centre - vortex.center_of_mass(batch.condition), scene.size) / scene.duration
    np.testing.assert_allclose(translation.numpy('examples,vector'), expected.numpy('examples,vector'), atol=.1)
    assert np.all(np.abs(strength.numpy('examples')) < scene.max_strength + .1)
    metrics = scene.metrics(batch.x, batch)
    assert float(math.max(metrics['x_mae'], 'examples')) == 0 and float(math.max(metrics['y_loss'], 'examples')) < 1e-6


def test_every_backend_draws_the_same_markers_and_velocities(scene_and_batch):
    _, reference = scene_and_batch
    with backends.get('numpy'):
        batch = small_scene().sample(4, seed=1)
    np.testing.assert_array_equal(batch.condition.values.numpy('examples,x,y'), reference.condition.values.numpy('examples,x,y'))
    np.testing.assert_allclose(batch.x.values.numpy('examples,x,y,vector'), reference.x.values.numpy('examples,x,y,vector'), atol=1e-5)
    np.testing.assert_allclose(batch.y.values.numpy('examples,x,y'), reference.y.values.numpy('examples,x,y'), atol=1e-4)


def test_estimator_alone_approaches_the_ground_truth(scene_and_batch):
    scene, batch = scene_and_batch
    with backends.get('torch'):
        _, history = scene.iterate_estimator(batch, 3)
    errors = [h['x_mae'] for h in history]
    assert errors[-1] < .2 * errors[0], errors
    assert history[-1]['seconds_per_example'] > 0


def test_network_predicts_a_velocity_from_both_markers(scene_and_batch):
    scene, batch = scene_and_batch
    with backends.get('torch'):
        math.seed(0)
        net = scene.network()
        prediction = scene.predict(net, batch)
        faster = FluidScene(res=16, duration=.5, steps=2, velocity_scale=3 * scene.velocity_scale, jit=False).predict(net, batch)
    assert prediction.shape.channel.item_names[0] == ('x', 'y') and prediction.resolution == batch.x.resolution
    assert scene.velocity_scale == 64  # size / (4 T): the largest translation per axis
    np.testing.assert_allclose(faster.values.numpy('examples,x,y,vector'), 3 * prediction.values.numpy('examples,x,y,vector'), rtol=1e-4, atol=1e-4)
