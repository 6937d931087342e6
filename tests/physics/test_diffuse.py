import numpy as np
from phi import math
from phi.field import CenteredGrid
from phi.geom import Box
from phi.math import batch, extrapolation

from phi_inverse.physics import diffuse, heat, stochastic_heat


def mode(box_size=10., res=20):
    """`sin(2π·2x/L)·cos(2π·y/L)` on an `L×L` periodic box: angular wavenumber `2π·√5/L`."""
    grid = CenteredGrid(0, extrapolation.PERIODIC, Box(x=box_size, y=box_size), x=res, y=res)
    return grid.with_values(math.sin(4 * np.pi * grid.center['x'] / box_size) * math.cos(2 * np.pi * grid.center['y'] / box_size))


def test_time_steps_may_differ_per_example(backend):
    """One call with `Δt` along a batch dimension equals one call per `Δt`, and each decays by `exp(−ν|k|²Δt)`."""
    x, nu = mode(), .3
    dt = math.tensor([.1, .5, -.2], batch('examples'))
    together = diffuse.fourier(x, nu, dt)
    assert together.values.default_backend == backend
    k_squared = (2 * np.pi / 10) ** 2 * 5
    for i, step in enumerate((.1, .5, -.2)):
        alone = diffuse.fourier(x, nu, step)
        math.assert_close(together.examples[i].values, alone.values, abs_tolerance=1e-6)
        math.assert_close(alone.values, x.values * np.exp(-nu * k_squared * step), abs_tolerance=1e-5)


def test_heat_and_stochastic_heat_share_the_operator(backend):
    """`heat.forward(x, ν, t)` and the stochastic heat step are `diffuse.fourier`; `heat.inverse` runs it backwards."""
    x = mode(2 * np.pi, 16)
    math.assert_close(heat.forward(x, 2., .05).values, diffuse.fourier(x, 2., .05).values)
    math.assert_close(stochastic_heat.deterministic_step(x, .05, diffusivity=2.).values, diffuse.fourier(x, 2., .05).values)
    math.assert_close(heat.inverse(x, 2., .01).values, diffuse.fourier(x, 2., -.01).values)
    math.assert_close(heat.inverse(x, 2., .01).values, x.values * np.exp(2 * 5 * .01), abs_tolerance=1e-5)
