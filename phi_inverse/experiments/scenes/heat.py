"""Heat-equation scene: infer the initial temperature `x` from the diffused `y = P(x)` (SIP paper, section 4 and B.3).

Data: 4–10 soft-edged hot rectangles on a periodic domain of 64x64 length units (the paper's cells), diffused
by `ν t = 8`. The network, a U-net with 4 levels and 16 filters, sees `y*`; its output is shifted to the mean
of `y*`, which diffusion preserves, so only the shape of `x` has to be learned.
"""
from typing import Dict

from phi import field, math
from phi.field import CenteredGrid, Field
from phi.geom import Box
from phi.math import Shape, batch, extrapolation, instance
from phiml import nn

from ...support.jit import jit_on_grid
from ...physics import heat
from ..methods import Method
from .sip_scene import PHYSICS, SIP, Batch, SIPScene

DOMAIN_SIZE = 64.
"""Side length of the domain in the paper's length unit: its 64x64 unit cells."""
AMOUNT = 8.
"""`ν t` of the paper."""


def hot_rectangles(grid: Field, examples: Shape, candidates: int = 10, counts=(4, 10), max_half_size: float = 10.) -> Field:
    """Initial temperatures: a random number of soft-edged hot rectangles per example (SIP paper, B.3).

    Of `candidates` rectangles per example, the first `n ~ U{counts}` are switched on. Each has a centre uniform in
    `[0.1, 0.9]` of the domain per axis, a half-size uniform in `[0, max_half_size)` per axis (length units),
    moved inside the domain if it would cross the boundary, and a strength uniform in `[0, 1)`. A cell's value is
    the sum of the strengths times the fraction of the cell each rectangle covers (exact soft edges).

    Args:
        grid: Template grid fixing bounds, resolution and boundary.
        examples: Batch shape of the result.

    Returns:
        A grid like `grid` with the batch dimensions `examples`.
    """
    rectangles = instance(rectangles=candidates)
    lower, upper, size = grid.bounds.lower, grid.bounds.upper, grid.bounds.size
    vector = size.shape
    count = math.random_uniform(examples, low=counts[0], high=counts[1] + 1, dtype=int)
    centre = lower + size * (.1 + .8 * math.random_uniform(examples, rectangles, vector))
    half_size = max_half_size * math.random_uniform(examples, rectangles, vector)
    centre = math.clip(centre, lower + half_size, upper - half_size)
    strength = math.random_uniform(examples, rectangles) * (math.range(rectangles) < count)
    coverage = 1
    for dim in grid.shape.spatial.names:  # a box covers a cell by the product of its 1D overlaps
        dx = grid.dx[dim]
        cells = lower[dim] + (math.range(grid.shape.spatial.only(dim)) + .5) * dx
        overlap = math.minimum(centre[dim] + half_size[dim], cells + dx / 2) - math.maximum(centre[dim] - half_size[dim], cells - dx / 2)
        coverage = coverage * math.maximum(overlap, 0) / dx
    return grid.with_values(math.sum(strength * coverage, rectangles))


class HeatScene(SIPScene):
    """SIP (Bayesian-damped inverse diffusion) vs backpropagation through periodic heat diffusion.

    Args:
        res: Grid cells per side. The domain keeps the paper's size (64 length units) at every resolution,
            so `res` only changes the discretisation, not the physical problem.
        amount: `ν t`.
        noise, signal, confidence, rounding: ε, δ, the confidence threshold and the rounding-noise floor of
            `heat.damped_inverse_update()`.
    """
    name = 'heat'
    methods: Dict[str, Method] = {
        'sip': Method(SIP, 'adam', 1e-3),
        'adam': Method(PHYSICS, 'adam', 1e-3),
        'sgd': Method(PHYSICS, 'sgd', 1e-3),
    }

    def __init__(self, res: int = 32, amount: float = AMOUNT, noise: float = heat.NOISE, signal: float = heat.SIGNAL,
                 confidence: float = heat.CONFIDENCE, rounding: float = heat.ROUNDING):
        self.res = res
        self.amount = amount
        self.inverse_settings = dict(noise=noise, signal=signal, confidence=confidence, rounding=rounding)
        self.grid = CenteredGrid(0, extrapolation.PERIODIC, Box(x=DOMAIN_SIZE, y=DOMAIN_SIZE), x=res, y=res)
        self.forward = jit_on_grid(lambda x: heat.forward(x, amount), self.grid)
        self.update = jit_on_grid(heat.damped_inverse_update(amount, **self.inverse_settings), self.grid)

    def config(self) -> dict:
        return {'res': self.res, 'domain_size': DOMAIN_SIZE, 'amount': self.amount, **self.inverse_settings}

    def sample(self, size: int, seed: int) -> Batch:
        with math.NUMPY:
            math.seed(seed)
            x = hot_rectangles(self.grid, batch(batch=size))
            y = heat.forward(x, self.amount)
        return Batch(math.convert(x), math.convert(y))

    def network(self):
        return nn.u_net(1, 1, levels=4, filters=16, batch_norm=True)

    def predict(self, net, batch: Batch):
        x = field.native_call(net, batch.y)
        return x + field.mean(batch.y) - field.mean(x)

    def simulator(self, batch: Batch):
        return self.forward

    def inverse_update(self, batch: Batch):
        return self.update
