import numpy as np
from phi import math
from phi.math import batch

from phi_inverse import updates
from phi_inverse.physics import wave_packet


def test_forward_matches_the_formula(backend):
    t0 = np.array([30., 76.8, 120.5], np.float32)
    y = wave_packet.forward(math.tensor(t0, batch('b'))).numpy('b,t')
    t = np.arange(256)[None]
    np.testing.assert_allclose(y, np.sin(.7 * (t - t0[:, None])) * np.exp(-.5 * ((t - t0[:, None]) / 20) ** 2), atol=1e-5)


def test_localised_means_within_half_a_period():
    true = math.tensor([50., 50., 50., 50.], batch('b'))
    estimate = math.tensor([50. + np.pi / .7 - .01, 50. - np.pi / .7 + .01, 50. + np.pi / .7 + .01, 59.], batch('b'))
    np.testing.assert_array_equal(wave_packet.localised(estimate, true).numpy('b'), [1, 1, 0, 0])


def test_lbfgsb_from_the_centre_finds_near_packets_only(ml_backend):
    """Noise-free packets: 2 samples off is found; one period (2π/0.7 ≈ 9) further off ends in the wrong crest."""
    t0_true = math.tensor([78.8, 76.8 + 2 + 2 * np.pi / .7], batch('b'))
    guess = math.zeros(batch(b=2)) + 76.8
    t0 = guess + updates.iterative_inverse(wave_packet.forward, 100)(guess, y_target=wave_packet.forward(t0_true))
    assert abs(float(t0.b[0]) - 78.8) < 1e-2
    np.testing.assert_allclose(float(t0.b[1]), float(t0_true.b[1]) - 2 * np.pi / .7, atol=.6)
    np.testing.assert_array_equal(wave_packet.localised(t0, t0_true).numpy('b'), [1, 0])
