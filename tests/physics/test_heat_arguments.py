"""Heat operators reject a negative diffusivity or time, which would run diffusion backwards without a word."""
import numpy as np
import pytest
from phi import math
from phi.field import CenteredGrid, Noise
from phi.geom import Box
from phi.math import batch, extrapolation

from phi_inverse.physics import heat


def grid():
    return CenteredGrid(Noise(batch(b=2), scale=8), extrapolation.PERIODIC, Box(x=16, y=16), x=8, y=8)


OPERATORS = {
    'forward': lambda x, nu, t: heat.forward(x, nu, t),
    'inverse': lambda x, nu, t: heat.inverse(x, nu, t),
    'damped_inverse': lambda x, nu, t: heat.damped_inverse(x, nu, t),
    'inverse_update': lambda x, nu, t: heat.inverse_update(nu, t)(x, y_target=x),
    'damped_inverse_update': lambda x, nu, t: heat.damped_inverse_update(nu, t)(x, y_target=x),
}


@pytest.mark.parametrize('name', sorted(OPERATORS))
@pytest.mark.parametrize('diffusivity,time', [(-1., 1.), (1., -.5), (math.tensor([1., -1.], batch('b')), 1.)],
                         ids=['diffusivity', 'time', 'one-example'])
def test_negative_diffusivity_or_time_is_rejected(backend, name, diffusivity, time):
    with pytest.raises(ValueError, match='>= 0'):
        OPERATORS[name](grid(), diffusivity, time)


@pytest.mark.parametrize('name', sorted(OPERATORS))
def test_zero_and_positive_amounts_are_accepted(name):
    for diffusivity, time in [(0., 1.), (1., 0.), (.5, 2.)]:
        result = OPERATORS[name](grid(), diffusivity, time)
        assert np.all(np.isfinite(result.values.numpy('b,x,y')))
