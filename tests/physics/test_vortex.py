import numpy as np
import pytest
from phi import math
from phi.field import CenteredGrid, Noise
from phi.geom import Box
from phi.math import batch, channel, vec

from phi_inverse.support import backends
from phi_inverse.metrics import values_of
from phi_inverse.physics import vortex
from .fluid_cases import DOMAIN, fresh, marker_flow

pytestmark = pytest.mark.usefixtures('single_torch_thread')

CENTRE, WIDTH, STRENGTHS = vec(x=32, y=32), 10., (1., -.8)


def problem():
    """Two Gaussian markers 12–14 units from the vortex and the exact translation + vortex flow that maps them to m*."""
    with math.NUMPY:
        positions = math.tensor([[20, 26], [40, 42]], batch('b'), channel(vector='x,y'))
        marker = CenteredGrid(lambda p: math.exp(-math.vec_squared(p - positions) / (2 * 8 ** 2)), **DOMAIN)
        translation = (CENTRE - vortex.center_of_mass(marker)) / marker_flow('numpy').duration
        x_true = vortex.translation_and_vortex(marker, translation, math.tensor(STRENGTHS, batch('b')), CENTRE, WIDTH)
    return math.convert(marker), math.convert(x_true)


def distance(a, b) -> np.ndarray:
    """Mean |a − b| over cells and components, per example."""
    return math.mean(math.vec_length(values_of(a) - values_of(b)), 'x,y').numpy('b')


@pytest.fixture(scope='module')
def exact():
    """m0, x* and m* = P(x*), computed once with PyTorch."""
    pytest.importorskip('torch')
    with backends.get('torch'):
        marker, x_true = problem()
        return marker, x_true, marker_flow('torch')(marker, x_true)


def test_center_of_mass_of_a_marker_across_the_boundary():
    marker = CenteredGrid(Box(vec(x=-6, y=20), vec(x=10, y=28)), **DOMAIN) + CenteredGrid(Box(vec(x=58, y=20), vec(x=64, y=28)), **DOMAIN)
    com = vortex.center_of_mass(marker).numpy('vector')
    np.testing.assert_allclose(com, [2, 24], atol=1e-4)
    naive = math.sum(marker.points * marker.values, 'x,y') / math.sum(marker.values, 'x,y')
    assert abs(float(naive.vector['x']) - 2) > 10


def test_fit_recovers_translation_and_strength(backend):
    grid = CenteredGrid(0, **DOMAIN)
    translation = math.tensor([[3., -1.], [0., 2.5]], batch('b'), channel(vector='x,y'))
    strength = math.tensor([1.5, -.5], batch('b'))
    fitted_translation, fitted_strength = vortex.fit_translation_and_vortex(
        vortex.translation_and_vortex(grid, translation, strength, CENTRE, WIDTH), CENTRE, WIDTH)
    np.testing.assert_allclose(fitted_translation.numpy('b,vector'), translation.numpy('b,vector'), atol=1e-5)
    np.testing.assert_allclose(fitted_strength.numpy('b'), [1.5, -.5], atol=1e-5)


def test_vortex_is_centred_with_the_minimum_image():
    """A vortex centred on the first cell column (x = 2) turns the cells on either side of it, across the boundary."""
    basis = vortex.vortex_basis(CenteredGrid(0, **DOMAIN), vec(x=2, y=34), WIDTH).values
    across, beside = basis.x[15].y[8].numpy('vector'), basis.x[1].y[8].numpy('vector')
    np.testing.assert_allclose(across, beside * [1, -1], rtol=1e-5)
    assert beside[1] > 1


def guesses(x_true):
    """Initial guesses: zero, the opposite vortex, the truth plus small-scale noise."""
    with math.NUMPY:
        math.seed(3)
        noise = CenteredGrid(Noise(batch(b=2), channel(vector='x,y'), scale=8), **DOMAIN)
    translation, strength = vortex.fit_translation_and_vortex(x_true, CENTRE, WIDTH)
    opposite = vortex.translation_and_vortex(x_true, translation, -strength, CENTRE, WIDTH)
    return {'zero': x_true * 0, 'opposite': opposite, 'noisy': x_true + math.convert(noise) * 2}


def test_repeated_updates_converge_to_translation_plus_vortex(torch_backend, exact):
    marker, x_true, target = exact
    update = vortex.reverse_vortex_update(marker, marker_flow('torch'), CENTRE, width=WIDTH)
    for name, x in guesses(x_true).items():
        start = distance(x, x_true)
        for _ in range(8):
            x = x + update(x, y_target=target)
        strength = vortex.fit_translation_and_vortex(x, CENTRE, WIDTH)[1].numpy('b')
        np.testing.assert_allclose(strength, STRENGTHS, atol=.02, err_msg=name)
        assert np.all(distance(x, x_true) < .02 * start), name


def test_an_update_never_moves_much_further_from_the_solution(torch_backend, exact):
    """Away from the solution an update shrinks the distance; at it, the estimator's bias stays small."""
    marker, x_true, target = exact
    update = vortex.reverse_vortex_update(marker, marker_flow('torch'), CENTRE, width=WIDTH)
    scale = distance(x_true, 0 * x_true)
    for name, x in guesses(x_true).items():
        before, after = distance(x, x_true), distance(x + update(x, y_target=target), x_true)
        assert np.all(after <= 1.1 * before), name
    assert np.all(distance(x_true + update(x_true, y_target=target), x_true) < 1e-3 * scale)


@pytest.fixture(scope='module')
def torch_update(exact):
    marker, x_true, target = exact
    with backends.get('torch'):
        x = x_true * .5
        return x, vortex.reverse_vortex_update(marker, marker_flow('torch'), CENTRE, width=WIDTH)(x, y_target=target)


def test_update_is_the_same_on_every_backend(backend, exact, torch_update):
    marker, _, target = [fresh(v) for v in exact]
    x, reference = [fresh(v) for v in torch_update]
    dx = vortex.reverse_vortex_update(marker, marker_flow(backend.name), CENTRE, width=WIDTH)(x, y_target=target)
    assert dx.values.default_backend == backend
    assert float(math.max(abs(dx.values - reference.values), dx.values.shape)) < 1e-3 * float(math.max(abs(reference.values), reference.values.shape))


def test_bad_inputs_name_the_fix(exact):
    marker, x_true, target = exact
    with pytest.raises(TypeError, match='CenteredGrid'):
        vortex.reverse_vortex_update(x_true, marker_flow('torch'), CENTRE)
    update = vortex.reverse_vortex_update(marker, marker_flow('torch'), CENTRE)
    with pytest.raises(TypeError, match='vector'):
        update(marker, y_target=target)
