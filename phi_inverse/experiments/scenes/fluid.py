"""Navier–Stokes scene: infer the initial velocity `v0` that carries a marker `m0` into `m*` (SIP paper, section 4).

Data (SIP paper, appendix B.4, and the authors' code): on a periodic domain of size 128, a marker `m0` of smooth noise inside a box of half-size 28
around a random centre, keeping the top 5–15 % of cells; `v0* = u + V(ω) + 0.1·noise` with the translation
`u = (c − COM(m0))/T` to the domain centre `c`, a Gaussian vortex `V(ω)` of width 20 at `c` with `ω ~ U(−2, 2)`,
and small-scale noise; `m* = P(v0*) = m(T)`. The network (U-net, 5 levels, 16 filters) sees `[m0, m*]`.
Methods: SIP with the reverse-time vortex estimator, and Adam backpropagating a frequency-weighted marker loss.
"""
import time
from typing import Dict, List, Tuple

import numpy as np
from phi import math
from phi.field import CenteredGrid, Noise
from phi.geom import Box
from phi.math import batch, channel, extrapolation
from phiml import nn

from ...metrics import half_squared_norm, mean_abs_error
from ...physics import navier_stokes, vortex
from ..methods import Method
from .sip_scene import PHYSICS, SIP, Batch, SIPScene


class FluidScene(SIPScene):
    """SIP vs backpropagation through a marker-transporting incompressible flow.

    Args:
        res: Grid cells per side; the physical domain is `size` regardless, so all lengths below are physical.
        size: Side length of the periodic domain.
        duration: Simulated time `T`.
        steps: Time steps (`dt = T / steps`).
        marker_half_size: Half-size of the box the marker is drawn in.
        fill_range: Range of the fraction of all cells the marker covers.
        max_strength: Vortex strengths are drawn from `U(−max_strength, max_strength)`.
        vortex_width: Width `σ` of the Gaussian vortex.
        noise_amplitude: Amplitude of the small-scale velocity noise.
        falloff: Length of the frequency weighting of the baseline's loss.
        velocity_scale: The network's output is multiplied by this speed, so that activations of order one stand
            for the data's velocities (translations up to `size / (4·duration)` per axis, vortices up to
            `max_strength·vortex_width/√e`). `None`: `size / (4·duration)`, 16 in the paper's setting. Without
            it, Adam at the paper's learning rate spends its first hundreds of steps growing the output to the
            data's magnitude, whatever the loss.
        jit: Compile the simulation (`navier_stokes.MarkerFlow`) where the backend can.
    """
    name = 'fluid'
    methods: Dict[str, Method] = {
        'sip': Method(SIP, 'adam', 5e-3),
        'adam': Method(PHYSICS, 'adam', 5e-3),
    }

    def __init__(self, res: int = 32, size: float = 128., duration: float = 2., steps: int = 8, marker_half_size: float = 28.,
                 fill_range: Tuple[float, float] = (.05, .15), max_strength: float = 2., vortex_width: float = 20.,
                 noise_amplitude: float = .1, falloff: float = 160., velocity_scale: float = None, jit: bool = True):
        self.res, self.size, self.duration, self.steps = res, float(size), float(duration), int(steps)
        self.marker_half_size, self.fill_range, self.max_strength = marker_half_size, tuple(fill_range), max_strength
        self.vortex_width, self.noise_amplitude, self.falloff = vortex_width, noise_amplitude, falloff
        self.velocity_scale = float(velocity_scale or self.size / (4 * self.duration))
        self.domain = dict(boundary=extrapolation.PERIODIC, bounds=Box(x=size, y=size), x=res, y=res)
        self.centre = math.vec(x=size / 2, y=size / 2)
        template = CenteredGrid(0, self.domain['boundary'], self.domain['bounds'], x=res, y=res)
        self.flow = navier_stokes.MarkerFlow(duration / steps, steps, template=template if jit else None)

    def config(self) -> dict:
        return {'res': self.res, 'size': self.size, 'duration': self.duration, 'time_steps': self.steps, 'dt': self.flow.dt,
                'marker_half_size': self.marker_half_size, 'fill_range': list(self.fill_range), 'max_strength': self.max_strength,
                'vortex_width': self.vortex_width, 'noise_amplitude': self.noise_amplitude, 'falloff': self.falloff,
                'velocity_scale': self.velocity_scale}

    def sample(self, size: int, seed: int) -> Batch:
        """Random markers and velocities drawn with NumPy (identical on every backend), `m*` simulated on the default one."""
        with math.NUMPY:
            math.seed(seed)
            rng = np.random.default_rng(seed)
            marker = self._marker(size, rng)
            velocity = self._velocity(marker, size, rng)
        marker, velocity = math.convert(marker), math.convert(velocity)
        return Batch(velocity, self.flow(marker, velocity), marker)

    def _grid(self, values) -> CenteredGrid:
        return CenteredGrid(values, **self.domain)

    def _marker(self, size: int, rng: np.random.Generator) -> CenteredGrid:
        """Smooth noise inside a box around a random centre, keeping the top `fill` fraction of all cells (binary)."""
        centres = math.tensor(rng.uniform(.25, .75, (size, 2)) * self.size, batch('examples'), channel(vector='x,y'))
        box = self._grid(Box(centres - self.marker_half_size, centres + self.marker_half_size))
        noise = self._grid(Noise(batch(examples=size), scale=10, smoothness=1)).values * box.values
        cells = noise.numpy('examples,x,y').reshape(size, -1)
        fill = rng.uniform(*self.fill_range, size=(size, 1))
        threshold = np.take_along_axis(np.sort(cells, axis=1), np.round((1 - fill) * cells.shape[1]).astype(int), axis=1)
        marked = (cells >= threshold).reshape(size, self.res, self.res).astype(np.float32)
        return self._grid(math.tensor(marked, batch('examples'), math.spatial('x,y'))) * box

    def _velocity(self, marker: CenteredGrid, size: int, rng: np.random.Generator) -> CenteredGrid:
        """`u + V(ω) + noise_amplitude·noise`, the translation carrying the marker to the domain centre."""
        translation = vortex.minimum_image(self.centre - vortex.center_of_mass(marker), self.size) / self.duration
        strength = math.tensor(rng.uniform(-self.max_strength, self.max_strength, size), batch('examples'))
        flow = vortex.translation_and_vortex(marker, translation, strength, self.centre, self.vortex_width)
        noise = self._grid(Noise(batch(examples=size), channel(vector='x,y'), scale=10, smoothness=1))
        return flow + noise * self.noise_amplitude

    def network(self):
        return nn.u_net(2, 2, levels=5, filters=16, batch_norm=True)

    def predict(self, net, batch: Batch):
        observations = math.stack([batch.condition.values, batch.y.values], channel(vector='m0,m_target'))
        velocity = math.native_call(net, observations, channel_dim='vector')
        return self._grid(math.rename_dims(velocity, 'vector', channel(vector='x,y')) * self.velocity_scale)

    def simulator(self, batch: Batch):
        return lambda v0: self.flow(batch.condition, v0)

    def inverse_update(self, batch: Batch):
        return vortex.reverse_vortex_update(batch.condition, self.flow, self.centre, width=self.vortex_width)

    def physics_loss(self, x_pred, batch: Batch):
        """The baseline's loss: the frequency-weighted marker mismatch (`navier_stokes.frequency_loss`)."""
        marker = self.flow(batch.condition, x_pred)
        return navier_stokes.frequency_loss(marker, batch.y, self.falloff), half_squared_norm(marker - batch.y)

    def metrics(self, x_pred, batch: Batch) -> Dict[str, math.Tensor]:
        """`x_mae`, `y_loss` and the baseline's `frequency_loss`, per example."""
        marker = self.flow(batch.condition, x_pred)
        return {'x_mae': mean_abs_error(x_pred, batch.x), 'y_loss': half_squared_norm(marker - batch.y),
                'frequency_loss': navier_stokes.frequency_loss(marker, batch.y, self.falloff)}

    def trajectory(self, batch: Batch, v0) -> CenteredGrid:
        """The markers at `t = 0, dt, …, T` (batch dimension `time`) simulated from `v0`."""
        return self.flow.forward(batch.condition, v0)[0]

    def iterate_estimator(self, batch: Batch, iterations: int) -> Tuple[CenteredGrid, List[Dict[str, float]]]:
        """The estimator alone as an iterative solver: `x ← x + Δx` from `x = 0`, without a network.

        Returns:
            The final estimate and, per iteration (0 = the zero guess), the test metrics and the wall time
            spent per example so far (evaluation excluded).
        """
        update = self.inverse_update(batch)
        x = batch.x * 0
        examples = batch.x.shape.batch.volume
        history, seconds = [], 0.
        for i in range(iterations + 1):
            history.append({'iteration': i, 'seconds_per_example': seconds / examples,
                            **{k: float(math.mean(v, v.shape.batch)) for k, v in self.metrics(x, batch).items()}})
            if i < iterations:
                start = time.perf_counter()
                x = x + update(x, y_target=batch.y)
                math.sum(x.values, x.values.shape).numpy()
                seconds += time.perf_counter() - start
        return x, history
