import numpy as np
import pytest
from phi import math
from phi.field import CenteredGrid, Noise
from phi.math import batch, extrapolation

from phi_inverse.support import backends
from phi_inverse.support.checks import require_trainable_backend
from phi_inverse.support.jit import jit_on_grid
from phi_inverse.physics import poisson, spectral


def test_installed_always_has_numpy():
    assert backends.installed()[0] == 'numpy'


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ValueError, match="'numpy', 'torch', 'tensorflow', 'jax'"):
        backends.get('mxnet')


def test_select_sets_the_default_backend_and_reports_missing_gpu():
    from phiml.backend import default_backend
    selected = backends.select('numpy', 'cpu')
    assert default_backend() is selected and backends.describe_device(selected) == 'CPU'
    if not selected.list_devices('GPU'):
        with pytest.warns(RuntimeWarning, match='No GPU'):
            backends.select('numpy', 'gpu')
    with pytest.raises(ValueError, match="'cpu' or 'gpu'"):
        backends.select('numpy', 'tpu')


def test_numpy_cannot_train_and_the_error_names_the_fix():
    with pytest.raises(NotImplementedError, match=r"phi\.torch\.flow"):
        require_trainable_backend(backends.get('numpy'))


def test_jit_on_grid_matches_eager_on_every_backend(backend):
    math.seed(0)
    x = CenteredGrid(Noise(batch(b=2)), extrapolation.ZERO, x=10, y=10)
    y_target = poisson.forward(CenteredGrid(Noise(batch(b=2)), extrapolation.ZERO, x=10, y=10))
    template = CenteredGrid(0, extrapolation.ZERO, x=10, y=10)
    forward, update = jit_on_grid(poisson.forward, template), jit_on_grid(poisson.laplace_update(), template)
    for compiled, eager in [(forward(x), poisson.forward(x)),
                            (update(x, y_target=y_target, y=None), poisson.laplace_update()(x, y_target=y_target)),
                            (update(x, y_target=y_target, y=forward(x)), poisson.laplace_update()(x, y_target=y_target))]:
        assert compiled.extrapolation == extrapolation.ZERO and compiled.values.shape == eager.values.shape
        assert float(math.max(abs(compiled.values - eager.values), dim=lambda s: s)) < 1e-5


@pytest.mark.parametrize('ext,expected', [
    (extrapolation.PERIODIC, {'x': 'periodic', 'y': 'periodic'}),
    (extrapolation.ZERO, {'x': 'zero', 'y': 'zero'}),
    (extrapolation.ZERO_GRADIENT, {'x': 'zero_gradient', 'y': 'zero_gradient'}),
    (extrapolation.combine_sides(x=extrapolation.PERIODIC, y=extrapolation.ZERO), {'x': 'periodic', 'y': 'zero'}),
    (extrapolation.combine_sides(x=extrapolation.ZERO, y=(extrapolation.ZERO, extrapolation.ONE)), {'x': 'zero', 'y': 'other'}),
])
def test_boundary_classification(ext, expected):
    assert spectral.boundary_kinds(CenteredGrid(0, ext, x=4, y=4)) == expected


def test_sine_transform_matches_scipy_and_inverts(backend):
    from scipy.fft import dst
    values = math.random_normal(batch(b=2), math.spatial(x=5, y=3))
    transformed = spectral.sine_transform(values, 'x')
    assert transformed.shape == values.shape and transformed.shape.names == values.shape.names
    expected = dst(values.numpy('b,x,y'), type=1, axis=1) / 2  # scipy's DST-I carries a factor 2
    np.testing.assert_allclose(transformed.numpy('b,x,y'), expected, atol=1e-5)
    restored = spectral.inverse_sine_transform(transformed, 'x')
    np.testing.assert_allclose(restored.numpy('b,x,y'), values.numpy('b,x,y'), atol=1e-5)


def test_laplace_eigenvalues_match_the_dense_stencil():
    n, dx = 7, 0.5
    matrix = (np.diag(-2 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1))
    matrix[0, -1] = matrix[-1, 0] = 1
    expected = np.sort(np.linalg.eigvalsh(matrix / dx ** 2))
    actual = spectral.laplace_eigenvalues(math.spatial(x=n), {'x': dx}, {'x': 'periodic'}).numpy('x')
    np.testing.assert_allclose(np.sort(actual), expected, atol=1e-10)
    matrix[0, -1] = matrix[-1, 0] = 0
    expected = np.sort(np.linalg.eigvalsh(matrix / dx ** 2))
    actual = spectral.laplace_eigenvalues(math.spatial(x=n), {'x': dx}, {'x': 'zero'}).numpy('x')
    np.testing.assert_allclose(np.sort(actual), expected, atol=1e-10)


def test_batched_grid_spacing_is_rejected():
    from phi.geom import Box
    bounds = Box(x=math.tensor([4., 8.], batch('b')), y=4)
    grid = CenteredGrid(0, extrapolation.ZERO, bounds, x=4, y=4)
    with pytest.raises(ValueError, match='one grid spacing per dimension'):
        spectral.cell_sizes(grid)
