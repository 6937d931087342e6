import numpy as np
from phi import field, math
from phi.field import CenteredGrid
from phi.geom import Box
from phi.math import batch, extrapolation

from phi_inverse.physics import heat
from phi_inverse.experiments.scenes.base import data_seed
from phi_inverse.experiments.scenes.heat import HeatScene, hot_rectangles


def rectangles(res: int, examples=16, seed=0, **kwargs):
    grid = CenteredGrid(0, extrapolation.PERIODIC, Box(x=64, y=64), x=res, y=res)
    with math.NUMPY:
        math.seed(seed)
        return hot_rectangles(grid, batch(b=examples), **kwargs).values.numpy('b,x,y')


def test_soft_edges_are_exact_cell_coverage_at_every_resolution():
    """The same draws on 16, 32 and 64 cells per side: every coarse cell holds the mean of the fine cells it covers."""
    fine, medium, coarse = rectangles(64), rectangles(32), rectangles(16)
    np.testing.assert_allclose(fine.reshape(16, 32, 2, 32, 2).mean((2, 4)), medium, atol=1e-6)
    np.testing.assert_allclose(fine.reshape(16, 16, 4, 16, 4).mean((2, 4)), coarse, atol=1e-6)
    assert 0 < np.mean((fine > 0) & (fine < fine.max())) and len(np.unique(fine)) > 100  # soft, not binary


def test_rectangles_stay_inside_the_domain_and_have_bounded_strength():
    x = rectangles(64, examples=64)
    assert x.min() == 0 and x.max() < 10  # at most 10 overlapping strengths below 1
    single = rectangles(64, examples=64, counts=(1, 1))
    assert single.max() < 1
    for axis in (1, 2):  # half-sizes < 10 on a side of 64: touching both sides would mean wrapping around
        first, last = np.take(single, 0, axis).any(-1), np.take(single, -1, axis).any(-1)
        assert not np.any(first & last)


def test_number_of_rectangles_is_between_four_and_ten():
    """4–10 rectangles (7 on average) cover several times the area of one, less their overlaps."""
    many = rectangles(64, examples=200)
    one = rectangles(64, examples=200, counts=(1, 1))
    assert 6 < np.mean(many > 0) / np.mean(one > 0) < 7.5  # always 4: 4.0, always 10: 9.2


def test_sample_is_identical_on_every_backend():
    from phi_inverse.support import backends
    scene = HeatScene(res=16)
    samples = []
    for name in backends.installed():
        with backends.get(name):
            sample = scene.sample(4, data_seed(0, 1, 3))
            assert sample.x.values.default_backend.name == name
            samples.append((sample.x.values.numpy('batch,x,y'), sample.y.values.numpy('batch,x,y')))
    for x, y in samples[1:]:
        np.testing.assert_array_equal(x, samples[0][0])
        np.testing.assert_array_equal(y, samples[0][1])


def test_target_is_the_diffused_initial_state():
    scene = HeatScene(res=32)
    with math.NUMPY:
        sample = scene.sample(4, seed=1)
        np.testing.assert_allclose(sample.y.values.numpy('batch,x,y'), heat.forward(sample.x, 8.).values.numpy('batch,x,y'), atol=1e-6)
    assert sample.x.dx[0] == 2.  # the paper's 64 length units at 32 cells per side


def test_prediction_is_shifted_to_the_target_mean(torch_backend):
    scene = HeatScene(res=16)
    math.seed(0)
    net = scene.network()
    sample = scene.sample(3, seed=2)
    prediction = scene.predict(net, sample)
    np.testing.assert_allclose(field.mean(prediction).numpy('batch'), field.mean(sample.y).numpy('batch'), atol=1e-6)
    np.testing.assert_allclose(field.mean(prediction).numpy('batch'), field.mean(sample.x).numpy('batch'), atol=1e-6)


def test_sip_gradient_is_the_damped_inverse_update(torch_backend):
    """∂L̃/∂x̂ = −Δx with the scene's JIT-compiled update, equal to the eager update."""
    scene = HeatScene(res=16)
    sample = scene.sample(2, seed=4)
    x_pred = sample.x * .5
    gradient = math.gradient(lambda x: math.sum(scene.sip_loss(x, sample)[0]), 'x', get_output=False)(x_pred)
    expected = heat.damped_inverse_update(8.)(x_pred, y_target=sample.y)
    np.testing.assert_allclose(-gradient.values.numpy('batch,x,y'), expected.values.numpy('batch,x,y'), atol=1e-5)
