"""Poisson scene: infer the source `x` of `∇²y = x` from the potential `y` (SIP paper, section 4.1).

Data: `x*` is PhiFlow `Noise(scale=10, smoothness=1)` normalised per example to mean 0 and std 1,
`y* = P(x*)` with zero boundaries and unit cells. Network: U-net with 4 levels and 16 filters.
"""
from typing import Dict

from phi import field, math
from phi.field import CenteredGrid, Noise
from phi.geom import Box
from phi.math import batch, extrapolation
from phiml import nn

from ...support.jit import jit_on_grid
from ...physics import poisson
from ..methods import Method
from .sip_scene import PHYSICS, SIP, Batch, SIPScene


class PoissonScene(SIPScene):
    """SIP vs backpropagation through `P(x) = ∇⁻²x`.

    Args:
        res: Grid cells per side.
        boundary: Boundary of `x` and `y`; zero (the paper's) and periodic use the exact spectral solver.
        noise_scale: Length scale of the `Noise` that generates `x*`, in cells.
        eta: Step size of the Laplace inverse update.
        jit: Compile the physics (forward solve and inverse update) for the grid; `False` runs it eagerly.

    SGD's learning rate scales as `(32/res)⁴`: the curvature of `½‖P(x) − y*‖²` is largest along the smoothest
    mode, `1/λ_min² ∝ (res + 1)⁴` in unit cells. `SGD_RATE` at 32x32 converged fastest over 40 steps among
    1e-9 … 1e-6 (momentum 0.9; 1e-6 diverges), and its scaled value 6.25e-9 trains at 64x64 where 2e-8 diverges.
    """
    name = 'poisson'
    SGD_RATE = 1e-7
    methods: Dict[str, Method] = {
        'sip': Method(SIP, 'adam', 1e-3),
        'adam': Method(PHYSICS, 'adam', 1e-3),
        'sgd': Method(PHYSICS, 'sgd', SGD_RATE, momentum=0.9),
    }

    def __init__(self, res: int = 32, boundary=extrapolation.ZERO, noise_scale: float = 10., eta: float = 1., jit: bool = True):
        self.res = res
        self.boundary = boundary
        self.noise_scale = noise_scale
        self.eta = eta
        self.jit = jit
        self.methods = {**self.methods, 'sgd': self.methods['sgd'].with_learning_rate(self.SGD_RATE * (32 / res) ** 4)}
        self.bounds = Box(x=res, y=res)
        grid = CenteredGrid(0, boundary, self.bounds, x=res, y=res)
        compile_physics = (lambda f: jit_on_grid(f, grid)) if jit else (lambda f: f)
        self.forward = compile_physics(poisson.forward)
        self.update = compile_physics(poisson.laplace_update(eta))

    def config(self) -> dict:
        return {'res': self.res, 'boundary': str(self.boundary), 'noise_scale': self.noise_scale, 'eta': self.eta, 'jit': self.jit}

    def sample(self, size: int, seed: int) -> Batch:
        with math.NUMPY:
            math.seed(seed)
            x = CenteredGrid(Noise(batch(batch=size), scale=self.noise_scale, smoothness=1), self.boundary,
                             self.bounds, x=self.res, y=self.res)
            x = (x - field.mean(x)) / math.std(x.values, x.shape.spatial)
            y = poisson.forward(x)
        return Batch(math.convert(x), math.convert(y))

    def network(self):
        return nn.u_net(1, 1, levels=4, filters=16, batch_norm=True)

    def predict(self, net, batch: Batch):
        return field.native_call(net, batch.y)

    def simulator(self, batch: Batch):
        return self.forward

    def inverse_update(self, batch: Batch):
        return self.update
