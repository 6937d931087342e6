"""Forward operators and their inverse updates, one module per process. Field in, same Field type out; phiml only."""
TIME = 'time'
"""The batch dimension along which trajectories stack their states, in increasing time (physics and SMDP alike)."""

from . import diffuse, heat, poisson, spectral  # noqa: E402 (submodules may import TIME)
