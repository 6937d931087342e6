"""Simulations the package does not ship, written with PhiFlow's own operators, trained with the generic SIP update.

* Advection–diffusion: a scalar `x` (the initial concentration) is carried by a known wind and diffuses,
  `steps` times `advect.semi_lagrangian` then `diffuse.explicit`; `y = P(x)` is the final concentration. Linear in
  `x`. The default wind is uniform, so the inverse is translation-equivariant like a convolutional network;
  `flow='cellular'` swaps in a cellular flow, whose inverse differs from place to place.
* Viscous Burgers: a velocity `x` advects itself and diffuses, `∂u/∂t + (u·∇)u = ν∇²u`; nonlinear in `x`.

Both live on a periodic grid of unit cells, `dt = 1`. Data: `x*` is PhiFlow `Noise` normalised per example (and
component) to mean 0 and standard deviation `amplitude`. Network: U-net with 3 levels and 16 filters. SIP uses
`updates.gauss_newton_krylov`, which knows nothing about the simulation but its code, regularised towards zero,
which removes what the network predicts in the components diffusion has erased, and for advection–diffusion
preconditioned by the inverse of the diffusion the simulation contains (`krylov.spectral_preconditioner`).
"""
from typing import Dict

import numpy as np
from phi import field, math
from phi.field import CenteredGrid, Noise, StaggeredGrid
from phi.geom import Box
from phi.math import batch, extrapolation
from phi.physics import advect, diffuse
from phiml import nn

from ... import krylov, updates
from ...physics import spectral as sp
from ...support.jit import jit_on_grid
from ..methods import Method
from .sip_scene import PHYSICS, SIP, Batch, SIPScene

SIMULATIONS = ('advection_diffusion', 'burgers')
DEFAULTS = {
    'advection_diffusion': dict(diffusivity=.5, speed=1., flow='uniform', amplitude=1., iterations=2, preconditioned=True, floor=1e-3,
                                regularization=1e-3),
    'burgers': dict(diffusivity=.5, amplitude=.5, iterations=4, preconditioned=False, regularization=1e-3),
}
"""Physics and Krylov settings of each simulation. Burgers' Jacobian also advects by the velocity perturbation,
which the diffusion preconditioner knows nothing about: preconditioned, its Gauss–Newton steps overshoot."""


class OwnSimulationScene(SIPScene):
    """SIP with the Gauss–Newton–Krylov update vs Adam backpropagating through a user's simulation.

    Args:
        simulation: `'advection_diffusion'` or `'burgers'`.
        res: Grid cells per side.
        steps: Time steps of the simulation, each `dt = 1`.
        diffusivity: ν in cells²/step; `diffuse.explicit` takes `substeps` to stay stable.
        speed: Wind speed (advection–diffusion) in cells/step: the uniform wind's, or the cellular flow's peak.
        flow: `'uniform'` or `'cellular'` (advection–diffusion).
        amplitude: Standard deviation of `x*`.
        noise_scale: Length scale of the `Noise` of `x*`, in cells.
        iterations, damping, regularization, tolerance: Settings of `updates.gauss_newton_krylov`.
        preconditioned: Precondition the Krylov solve by the inverse of the simulation's diffusion, with gain at most
            `1/floor` (`krylov.spectral_preconditioner`).
        jit: Compile forward simulation and update for the grid.
    """
    methods: Dict[str, Method] = {
        'sip': Method(SIP, 'adam', 1e-3),
        'adam': Method(PHYSICS, 'adam', 1e-3),
    }

    def __init__(self, simulation: str = 'advection_diffusion', res: int = 24, steps: int = 4, diffusivity: float = .5,
                 speed: float = 1., flow: str = 'uniform', amplitude: float = 1., noise_scale: float = 8., iterations: int = 2,
                 damping: float = 0., regularization: float = 1e-3, tolerance: float = 0., preconditioned: bool = True,
                 floor: float = 1e-3, jit: bool = True):
        if simulation not in SIMULATIONS:
            raise ValueError(f"simulation must be one of {SIMULATIONS} but got '{simulation}'.")
        if flow not in ('uniform', 'cellular'):
            raise ValueError(f"flow must be 'uniform' or 'cellular' but got '{flow}'.")
        self.name = simulation
        self.settings = dict(simulation=simulation, res=res, time_steps=steps, diffusivity=diffusivity, speed=speed, flow=flow,
                             amplitude=amplitude, noise_scale=noise_scale, iterations=iterations, damping=damping,
                             regularization=regularization, tolerance=tolerance, preconditioned=preconditioned, floor=floor, jit_physics=jit)
        self.res, self.steps, self.diffusivity, self.noise_scale, self.amplitude = res, steps, diffusivity, noise_scale, amplitude
        self.substeps = max(1, int(np.ceil(diffusivity / .2)))
        self.channels = 1 if simulation == 'advection_diffusion' else 2
        values = 0 if self.channels == 1 else math.zeros(math.channel(vector='x,y'))
        self.grid = CenteredGrid(values, extrapolation.PERIODIC, Box(x=res, y=res), x=res, y=res)
        self.velocity = cellular_flow(res, speed) if flow == 'cellular' else uniform_flow(res, speed)
        _ = self.grid.center, self.velocity.geometry.center  # cached by PhiFlow on first use: compute outside any trace
        self.simulate = self.advection_diffusion if simulation == 'advection_diffusion' else self.burgers
        preconditioner = krylov.spectral_preconditioner(self.diffusion_transfer(), floor) if preconditioned else None
        compile_physics = (lambda f: jit_on_grid(f, self.grid)) if jit else (lambda f: f)
        self.forward = compile_physics(self.simulate)
        self.update = compile_physics(updates.gauss_newton_krylov(self.forward, iterations, damping, regularization, preconditioner, tolerance))

    @staticmethod
    def for_simulation(simulation: str, **settings) -> 'OwnSimulationScene':
        """The scene of `simulation` with its `DEFAULTS`, overridden by `settings`."""
        if simulation not in SIMULATIONS:
            raise ValueError(f"simulation must be one of {SIMULATIONS} but got '{simulation}'.")
        return OwnSimulationScene(simulation, **{**DEFAULTS[simulation], **settings})

    def advection_diffusion(self, x):
        for _ in range(self.steps):
            x = advect.semi_lagrangian(x, self.velocity, 1.)
            x = diffuse.explicit(x, self.diffusivity, 1., substeps=self.substeps)
        return x

    def burgers(self, u):
        for _ in range(self.steps):
            u = advect.semi_lagrangian(u, u, 1.)
            u = diffuse.explicit(u, self.diffusivity, 1., substeps=self.substeps)
        return u

    def diffusion_transfer(self) -> math.Tensor:
        """`h_k`, the factor by which `diffuse.explicit` scales FFT mode `k` over all steps (5-point stencil)."""
        kinds = {dim: sp.PERIODIC for dim in self.grid.shape.spatial.names}
        eigenvalues = sp.laplace_eigenvalues(self.grid.resolution, sp.cell_sizes(self.grid), kinds)
        return (1 + self.diffusivity / self.substeps * eigenvalues) ** (self.substeps * self.steps)

    def config(self) -> dict:
        return dict(self.settings)

    def sample(self, size: int, seed: int) -> Batch:
        with math.NUMPY:
            math.seed(seed)
            channels = {} if self.channels == 1 else dict(vector='x,y')
            x = CenteredGrid(Noise(batch(batch=size), scale=self.noise_scale, smoothness=1, **channels), extrapolation.PERIODIC,
                             self.grid.bounds, x=self.res, y=self.res)
            x = (x - field.mean(x)) / math.std(x.values, x.shape.spatial) * self.amplitude
            y = self.simulate(x)
        return Batch(math.convert(x), math.convert(y))

    def network(self):
        return nn.u_net(self.channels, self.channels, levels=3, filters=16, batch_norm=True)

    def predict(self, net, batch: Batch):
        x = field.native_call(net, batch.y)
        return x if self.channels == 1 else x.with_values(math.rename_dims(x.values, 'vector', self.grid.shape['vector']))

    def simulator(self, batch: Batch):
        return self.forward

    def inverse_update(self, batch: Batch):
        return self.update


def cellular_flow(res: int, speed: float) -> StaggeredGrid:
    """The divergence-free periodic flow of the stream function `ψ = (speed·res/2π) sin(2πx/res) sin(2πy/res)`."""
    k = 2 * np.pi / res

    def velocity(position):
        x, y = position.vector['x'], position.vector['y']
        return math.stack([speed * math.sin(k * x) * math.cos(k * y), -speed * math.cos(k * x) * math.sin(k * y)], math.channel(vector='x,y'))
    return StaggeredGrid(velocity, extrapolation.PERIODIC, Box(x=res, y=res), x=res, y=res)


def uniform_flow(res: int, speed: float) -> StaggeredGrid:
    """A uniform wind of `speed` cells/step at an angle whose tangent is ½."""
    direction = np.array([2., 1.]) / np.sqrt(5.)
    return StaggeredGrid(math.tensor(speed * direction, math.channel(vector='x,y')), extrapolation.PERIODIC, Box(x=res, y=res), x=res, y=res)
