import numpy as np
import pytest
from phi import math
from phi.math import batch

from phi_inverse import smdp


def test_reverse_step_adds_the_scaled_correction(backend):
    x = math.tensor([.5, -1., 2.], batch('examples'))
    physics = smdp.euler(lambda y: 3 * y)
    step = smdp.reverse_step(physics, lambda y, t: t * y, correction_factor=.5)
    expected = x + .1 * 3 * x + .1 * .5 * 2. * x
    math.assert_close(step(x, math.tensor(2.), math.tensor(.1)), expected, rel_tolerance=1e-6)
    math.assert_close(smdp.reverse_step(physics, None)(x, 2., .1), x + .1 * 3 * x, rel_tolerance=1e-6)


def test_heun_is_second_order_and_euler_first_order(backend):
    x, rate = math.tensor([1.], batch('examples')), -2.
    exact = lambda dt: x * np.exp(rate * dt)
    errors = {name: [float(abs(integrator(lambda y: rate * y)(x, 0., dt) - exact(dt)).max) for dt in (.1, .05)]
              for name, integrator in (('euler', smdp.euler), ('heun', smdp.heun))}
    assert errors['euler'][0] / errors['euler'][1] == pytest.approx(4, rel=.2)  # local error O(dt²)
    assert errors['heun'][0] / errors['heun'][1] == pytest.approx(8, rel=.2)  # local error O(dt³)


def test_negated_increment_inverts_a_linear_step_to_first_order(backend):
    x = math.tensor([1., -2.], batch('examples'))
    forward = lambda y, dt: y * math.exp(-dt)
    reverse = smdp.negated_increment(forward)
    math.assert_close(reverse(x, 0., .01), x * (2 - np.exp(-.01)), rel_tolerance=1e-6)
    math.assert_close(forward(reverse(x, 0., 1e-3), 1e-3), x, rel_tolerance=1e-5)


def test_no_physics_is_the_identity(backend):
    x = math.tensor([1., 2.], batch('examples'))
    math.assert_close(smdp.no_physics(x, 1., .1), x)
