"""Shared set-up of the Navier–Stokes tests: a small periodic domain and one flow per backend, compiled where it pays."""
from functools import lru_cache

from phi import math
from phi.field import CenteredGrid, Field
from phi.geom import Box, UniformGrid
from phi.math import extrapolation

from phi_inverse.physics.navier_stokes import MarkerFlow

DOMAIN = dict(boundary=extrapolation.PERIODIC, bounds=Box(x=64, y=64), x=16, y=16)
DT, STEPS = .5, 2


@lru_cache(maxsize=None)
def marker_flow(backend_name: str) -> MarkerFlow:
    """`T = 1` in two steps; JIT-compiled on PyTorch and JAX (JAX runs PhiFlow eagerly at tens of seconds per step)."""
    compiled = backend_name in ('torch', 'jax')
    return MarkerFlow(DT, STEPS, template=CenteredGrid(0, **DOMAIN) if compiled else None)


def fresh(field: Field) -> Field:
    """`field` on a new geometry with its values on the default backend.

    PhiFlow caches geometry properties (cell centres) with the backend that first computed them, so a Field made
    under one backend must not be reused under another.
    """
    geometry = UniformGrid(field.geometry.resolution, field.geometry.bounds)
    return Field(geometry, math.convert(field.values), field.boundary)


