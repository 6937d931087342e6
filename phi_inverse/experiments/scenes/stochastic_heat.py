"""SMDP stochastic heat scene: recover `x_0` from `x_T` of `dx = ∆x dt + g dW` on a periodic 2π box (SMDP paper,
section 4.2).

Data: initial states are Gaussian random fields with power spectrum `∝ |k|^−4` (unit variance), generated with
NumPy from the seed; trajectories `t ∈ [0, 0.2]`, `Δt = 0.2/32`, `g = 0.1` are simulated on the fly for every
training batch, on a time grid whose interior points are jittered within `±Δt/2` (paper appendix D). Test
observations `x_T` come from one fixed stochastic simulation of the test initial states.

Methods and the entries they record:

* `smdp`: reverse physics `x − (P_Δt(x) − x)` plus a correction network, trained with the multi-step loss;
  sampled with the probability-flow ODE (`smdp-ode`) and the reverse SDE (`smdp-sde`).
* `s-only`: the same without reverse physics (`s-only-ode`, `s-only-sde`).
* `supervised`: the same network architecture mapping `x_T → x_0` with an L2 loss.

Network: PhiML's periodic U-net with residual blocks (a small ResNet-style encoder–decoder); the correction sees
`(x, t/T)` and its output is divided by `Δt`, so that `Δt·s_θ`, the change it makes per step, is of order one.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from phi import math
from phi.field import CenteredGrid
from phi.math import Tensor, batch, channel, extrapolation, spatial
from phiml import nn

from ... import smdp
from ...physics import TIME, stochastic_heat
from ...smdp.metrics import reconstruction_mse, spectral_error
from ...support import networks
from ...support.jit import jit_with_networks
from ..methods import Method
from ..smdp_objectives import MultiStep, Supervised
from .base import Scene, data_seed

EXAMPLES = 'examples'
EVALUATION_CHUNK = 100
SAMPLERS = ('ode', 'sde')
LEARNING_RATES = dict(learning_rate=1e-3, final_learning_rate=1e-4)


@dataclass
class StochasticHeatScene(Scene):
    """Data, physics, networks and evaluation of the stochastic heat equation.

    Args:
        train_size: Number of training initial states (paper: 2500).
        test_size: Number of test initial states and observations (paper: 500).
        seed: Seeds data and test observations.
        resolution: Cells per side.
        steps: Time steps from 0 to `end_time`.
        end_time: `T`.
        diffusion: `g`.
        filters: Channels of the U-net.
        levels: Resolution levels of the U-net.
        jitter: Jitter the interior time points of every training batch.
        window: `S_max` of the multi-step loss of `smdp` and `s-only` (the curriculum grows `S` from 2).
    """
    train_size: int = 2500
    test_size: int = 500
    seed: int = 0
    resolution: int = 32
    steps: int = 32
    end_time: float = .2
    diffusion: float = .1
    filters: int = 16
    levels: int = 2
    jitter: bool = True
    window: int = 8
    initial: np.ndarray = field(init=False, repr=False)
    test_initial: CenteredGrid = field(init=False, repr=False)
    test_observation: CenteredGrid = field(init=False, repr=False)

    name = 'stochastic_heat'

    def __post_init__(self):
        with math.NUMPY:
            math.seed(data_seed(self.seed, 0))
            self.initial = stochastic_heat.gaussian_random_field(batch(examples=self.train_size), self.resolution).values.numpy(f'{EXAMPLES},x,y')
            math.seed(data_seed(self.seed, 2))
            x0 = stochastic_heat.gaussian_random_field(batch(examples=self.test_size), self.resolution)
            x_end = stochastic_heat.simulate(x0, self.nominal_times(), self.diffusion)[{TIME: -1}]
        self.test_initial, self.test_observation = math.convert(x0), math.convert(x_end)
        self.methods = {
            'smdp': Method(MultiStep(self.window), variants=SAMPLERS, **LEARNING_RATES),
            's-only': Method(MultiStep(self.window, reverse_physics=False), variants=SAMPLERS, **LEARNING_RATES),
            'supervised': Method(Supervised(), **LEARNING_RATES),
        }

    def config(self) -> dict:
        return {'train_size': self.train_size, 'test_size': self.test_size, 'resolution': self.resolution, 'time_steps': self.steps,
                'end_time': self.end_time, 'diffusion': self.diffusion, 'filters': self.filters, 'levels': self.levels,
                'jitter': self.jitter, 'window': self.window}

    @property
    def dt(self) -> float:
        return self.end_time / self.steps

    def nominal_times(self) -> Tensor:
        return math.tensor(np.linspace(0, self.end_time, self.steps + 1, dtype=np.float32), batch(TIME))

    def grid(self, values: Tensor) -> CenteredGrid:
        return CenteredGrid(values, extrapolation.PERIODIC, stochastic_heat.DOMAIN, x=self.resolution, y=self.resolution)

    def physics(self, reverse_physics: bool = True) -> smdp.reverse.ReversePhysics:
        """`P̃⁻¹`: the forward step with `−Δt` applied to its increment, or none (`s-only`)."""
        return smdp.negated_increment(stochastic_heat.deterministic_step) if reverse_physics else smdp.no_physics

    def correction_network(self):
        return self._network(inputs=2)

    def supervised_network(self):
        return self._network(inputs=1)

    def _network(self, inputs: int):
        return nn.u_net(inputs, 1, levels=self.levels, filters=self.filters, batch_norm=False,
                        activation=networks.activation('LeakyReLU'), periodic=True, use_res_blocks=True)

    def correction(self, net) -> smdp.reverse.Correction:
        """`s_θ(x, t) = NN(x, t/T)/Δt`, grid in, grid out."""
        def correction(x: CenteredGrid, t: Tensor) -> CenteredGrid:
            time_channel = math.expand(t / self.end_time, x.values.shape)
            features = math.stack([x.values, time_channel], channel(vector='x,t'))
            return x.with_values(math.native_call(net, features) / self.dt)
        return correction

    def windows(self, size: int, count: int, seed: int) -> Tuple[Tensor, Tensor]:
        """`count` training windows of `size` states, simulated from random initial states on one jittered time grid.

        Returns:
            The states' values along (`examples`, `time`, x, y) and the window's times along `time`.
        """
        rng = np.random.default_rng(seed)
        start = int(rng.integers(0, self.steps + 2 - size))
        with math.NUMPY:
            math.seed(seed)
            times = smdp.jitter_times(self.nominal_times(), self.dt) if self.jitter else self.nominal_times()
            x0 = self.grid(math.tensor(self.initial[rng.integers(0, self.train_size, count)], batch(EXAMPLES), spatial('x,y')))
            trajectory = stochastic_heat.simulate(x0, times[{TIME: slice(0, start + size)}], self.diffusion)
        window = trajectory[{TIME: slice(start, start + size)}].values
        return math.convert(window), math.convert(times[{TIME: slice(start, start + size)}])

    def pairs(self, count: int, seed: int) -> Tuple[Tensor, Tensor]:
        """`count` supervised pairs (`x_T`, `x_0`) as value tensors along `examples`, from fresh noise."""
        rng = np.random.default_rng(seed)
        with math.NUMPY:
            math.seed(seed)
            x0 = self.grid(math.tensor(self.initial[rng.integers(0, self.train_size, count)], batch(EXAMPLES), spatial('x,y')))
            x_end = stochastic_heat.simulate(x0, self.nominal_times(), self.diffusion)[{TIME: -1}]
        return math.convert(x_end.values), math.convert(x0.values)

    def supervised_loss(self, net) -> Callable[..., Tensor]:
        """`‖NN(x_T) − x_0‖²` summed over cells, mean over a batch of value tensors."""
        def loss(x_end: Tensor, x0: Tensor) -> Tensor:
            return math.mean(math.sum((math.native_call(net, x_end) - x0) ** 2, spatial), EXAMPLES)
        return loss

    def multi_step_loss(self, net, reverse_physics: bool = True) -> Callable[..., Tensor]:
        """The multi-step loss, mean over a batch of windows of value tensors."""
        step = smdp.reverse_step(self.physics(reverse_physics), self.correction(net))

        def loss(window: Tensor, times: Tensor) -> Tensor:
            return math.mean(smdp.multi_step_loss(step, self.grid(window), times), EXAMPLES)
        return loss

    def test_set(self, size: int, seed: int) -> Tuple[CenteredGrid, CenteredGrid]:
        """The test initial states and observations `(x_0, x_T)`, drawn with the scene's seed in `__post_init__`."""
        if size != self.test_size:
            raise ValueError(f"This scene holds {self.test_size} test examples, not {size}; create it with test_size={size}.")
        return self.test_initial, self.test_observation

    def reconstruct(self, net, method: Method, sampler: Optional[str], observation: Optional[CenteredGrid] = None,
                    samples: Optional[int] = None, seed: int = 0) -> CenteredGrid:
        """`x̂_0` for `observation` (default: the test observations) by `sampler` `'ode'` or `'sde'`, or directly
        (`sampler=None`) for the supervised network."""
        observation = self.test_observation if observation is None else observation
        if sampler is None:
            return observation.with_values(math.native_call(net, observation.values))
        physics, loss = self.physics(method.objective.reverse_physics), method.objective.trained_with
        if sampler == 'ode':
            predictor = smdp.probability_flow(physics, jit_with_networks(self.correction(net), net), loss)
        else:
            math.seed(seed)
            predictor = smdp.reverse_sde(physics, self.correction(net), self.diffusion, loss)
        return smdp.sample(observation, self.nominal_times(), predictor, samples=samples)

    def evaluate(self, net, method: Method, test_set, chunk: int) -> Dict[str, Dict[str, float]]:
        """Reconstruction MSE and spectral error on the test set, for each sampler of `method`."""
        initial, observation = test_set
        results = {}
        for sampler in method.variants or (None,):
            mse, spectral = [], []
            for start in range(0, self.test_size, EVALUATION_CHUNK):
                part = {EXAMPLES: slice(start, start + EVALUATION_CHUNK)}
                x0_pred = self.reconstruct(net, method, sampler, observation[part])
                mse.append(reconstruction_mse(x0_pred, initial[part], lambda x: stochastic_heat.deterministic_step(x, self.end_time)).numpy(EXAMPLES))
                spectral.append(spectral_error(x0_pred, initial[part]).numpy(EXAMPLES))
            results[sampler or ''] = {'mse': float(np.mean(np.concatenate(mse))), 'spectral_error': float(np.mean(np.concatenate(spectral)))}
        return results
