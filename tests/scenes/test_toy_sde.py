"""The toy SDE scene's training batches: mirror pairs and the score-matching time weighting."""
import numpy as np
import pytest
from phi import math

from phi_inverse.experiments.scenes.toy_sde import ToySDEScene


@pytest.fixture(scope='module')
def scene():
    return ToySDEScene(trajectories=40, mirror=True)


def test_every_mirrored_window_comes_with_its_mirror_image(scene):
    states, times = scene.windows(4, 7, seed=3)
    states, times = states.numpy('examples,time'), times.numpy('examples,time')
    assert states.shape == (7, 4)
    np.testing.assert_array_equal(states[4:], -states[:3])
    np.testing.assert_array_equal(times[4:], times[:3])
    assert not np.allclose(states[:4], -states[:4])


def test_mirrored_states_come_in_pairs_and_unmirrored_ones_are_paths(scene):
    x, t = scene.states(6, seed=5, time_sampling='uniform')
    np.testing.assert_array_equal(x.numpy()[3:], -x.numpy()[:3])
    plain = ToySDEScene(trajectories=40, mirror=False)
    x, t = plain.states(200, seed=5, time_sampling='uniform')
    index = np.round(t.numpy() / plain.dt).astype(int)
    assert all(np.any(np.isclose(plain.paths[:, m], v)) for v, m in zip(x.numpy(), index))


@pytest.mark.parametrize('weighting,power', [('std', .5), ('variance', 1.)])
def test_time_weighting_follows_the_branch_width_and_scales_the_unweighted_loss(scene, weighting, power, torch_backend):
    net = scene.correction_network()
    x, t = scene.states(64, seed=1, time_sampling='log-uniform')
    weighted = scene.score_matching_loss(net, weighting=weighting)
    plain = scene.score_matching_loss(net, weighting='none')
    index = np.round(t.numpy() / scene.dt).astype(int)
    variance = np.var(np.abs(scene.paths), axis=0) ** power
    example = lambda loss, k: float(loss(x.examples[k:k + 1], t.examples[k:k + 1]))
    for k in (0, 10, 40):
        expected = variance[index[k]] / variance[1:].mean()
        assert example(weighted, k) == pytest.approx(expected * example(plain, k), rel=1e-4)
    early, late = scene._time_weight(weighting)(math.tensor([.02, 2.], math.batch('examples'))).numpy()
    assert late > 3 * early
    with pytest.raises(ValueError, match='weighting'):
        scene.score_matching_loss(net, weighting='sigma')
