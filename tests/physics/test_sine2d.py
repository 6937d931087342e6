import numpy as np
import pytest
from phi import math
from phi.math import batch

from phi_inverse.physics import sine2d

XI, PHI, GAMMA = 5., np.deg2rad(30), 10.


def numpy_forward(x, xi, phi, gamma):
    rotation = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
    x_hat = gamma * x @ rotation.T
    return np.stack([np.sin(x_hat[:, 0] / xi), xi * x_hat[:, 1]], -1)


def all_solutions(y, xi, phi, gamma, periods=40):
    """Every solution with |n| ≤ periods, from the two arcsin branches, as an array (example, solution, 2)."""
    n = np.arange(-periods, periods + 1)
    z1 = np.concatenate([np.arcsin(y[:, :1]) + 2 * np.pi * n, np.pi - np.arcsin(y[:, :1]) + 2 * np.pi * n], 1)
    x_hat = np.stack([z1 * xi, np.broadcast_to(y[:, 1:] / xi, z1.shape)], -1) / gamma
    rotation = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
    return x_hat @ rotation


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.normal(0, .5, (200, 2)), rng.uniform(-1, 1, (200, 2))


def wrap(array):
    return math.tensor(array.astype(np.float32), batch('b'), sine2d.VECTOR)


def test_forward_matches_the_formula(backend, points):
    x, _ = points
    np.testing.assert_allclose(sine2d.forward(wrap(x), XI, PHI, GAMMA).numpy('b,vector'), numpy_forward(x, XI, PHI, GAMMA), atol=1e-4)


def test_nearest_solution_is_exact_and_nearest(backend, points):
    x, y = points
    solution = sine2d.nearest_solution(wrap(x), wrap(y), XI, PHI, GAMMA).numpy('b,vector')
    np.testing.assert_allclose(numpy_forward(solution, XI, PHI, GAMMA), y, atol=2e-4)
    brute_force = np.linalg.norm(all_solutions(y, XI, PHI, GAMMA) - x[:, None], axis=-1).min(1)
    np.testing.assert_allclose(np.linalg.norm(solution - x, axis=-1), brute_force, atol=1e-4)


def test_distance_is_zero_at_a_solution_and_divided_by_xi(points):
    x, y = points
    solution = all_solutions(y, XI, PHI, GAMMA)[:, 45]
    assert float(math.max(sine2d.solution_distance(wrap(solution), wrap(y), XI, PHI, GAMMA), 'b')) < 1e-4
    tiny_offset = solution + np.array([1e-3, -2e-3])
    np.testing.assert_allclose(sine2d.solution_distance(wrap(tiny_offset), wrap(y), XI, PHI, GAMMA).numpy('b'),
                               np.linalg.norm([1e-3, -2e-3]) / XI, rtol=1e-2)
