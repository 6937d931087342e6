"""The one periodic-grid check (`support.checks.check_periodic_grid`) and the operators that rely on it."""
import pytest
from phi import math
from phi.field import CenteredGrid, StaggeredGrid
from phi.math import channel, extrapolation

from phi_inverse.physics import diffuse, heat, navier_stokes as ns, stochastic_heat
from phi_inverse.support.checks import check_periodic_grid

PERIODIC = extrapolation.PERIODIC
HALF_PERIODIC = extrapolation.combine_sides(x=PERIODIC, y=extrapolation.ZERO)


def test_accepts_periodic_grids_of_the_expected_kind():
    check_periodic_grid(CenteredGrid(0, PERIODIC, x=4, y=4), 'x')
    check_periodic_grid(CenteredGrid(0, extrapolation.combine_sides(x=PERIODIC, y=PERIODIC), x=4, y=4), 'x', vector=False)
    check_periodic_grid(StaggeredGrid(0, PERIODIC, x=4, y=4), 'v', centred=False, vector=True)


@pytest.mark.parametrize('value, kwargs, error, message', [
    (math.zeros(channel(vector=2)), {}, TypeError, 'CenteredGrid'),
    (StaggeredGrid(0, PERIODIC, x=4, y=4), {}, TypeError, 'centred'),
    (CenteredGrid(0, PERIODIC, x=4, y=4), dict(centred=False), TypeError, 'StaggeredGrid'),
    (CenteredGrid(0, PERIODIC, x=4, y=4), dict(vector=True), TypeError, 'vector'),
    (CenteredGrid(0, extrapolation.ZERO, x=4, y=4), {}, ValueError, 'with_extrapolation'),
    (CenteredGrid(0, HALF_PERIODIC, x=4, y=4), {}, ValueError, 'PERIODIC'),
])
def test_rejects_other_grids_and_names_the_fix(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_periodic_grid(value, 'x', **kwargs)


def test_every_periodic_operator_rejects_a_grid_periodic_along_one_axis_only():
    grid = CenteredGrid(0, HALF_PERIODIC, x=8, y=8)
    velocity = StaggeredGrid(0, PERIODIC, x=8, y=8)
    operators = [lambda: diffuse.fourier(grid, 1., .1), lambda: heat.forward(grid, 1.), lambda: heat.damped_inverse(grid, 1.),
                 lambda: stochastic_heat.deterministic_step(grid, .1), lambda: ns.rollout(grid, velocity, .5, 1)]
    for operator in operators:
        with pytest.raises(ValueError, match='periodic along every dimension'):
            operator()
