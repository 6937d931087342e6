"""SMDP stochastic heat scene: recover `x_0` from `x_T` of `dx = ∆x dt + g dW` on a periodic 2π box (SMDP paper,
section 4.2).

Data: initial states are Gaussian random fields with power spectrum `∝ |k|^−4` (unit variance), generated with
NumPy from the seed; trajectories `t ∈ [0, 0.2]`, `Δt = 0.2/32`, `g = 0.1` are simulated on the fly for every
training batch, on a time grid whose interior points are jittered within `±Δt/2` (paper appendix D). Test
observations `x_T` come from one fixed stochastic simulation of the test initial states.

Models and their methods:

* `smdp`: reverse physics `x − (P_Δt(x) − x)` plus a correction network, trained with the multi-step loss;
  sampled with the probability-flow ODE (`smdp-ode`) and the reverse SDE (`smdp-sde`).
* `s-only`: the same without reverse physics (`s-only-ode`, `s-only-sde`).
* `supervised`: the same network architecture mapping `x_T → x_0` with an L2 loss.

Network: PhiML's periodic U-net with residual blocks (a small ResNet-style encoder–decoder); the correction sees
`(x, t/T)` and its output is divided by `Δt`, so that `Δt·s_θ`, the change it makes per step, is of order one.

This is an SMDP scene, trained by `phi_inverse.experiments.smdp_runner`, not a SIP `Scene`.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from phi import math
from phi.field import CenteredGrid
from phi.math import Tensor, batch, channel, extrapolation, spatial
from phiml import nn

from ...support import networks
from ... import smdp
from ...support.jit_update import Schedule, cosine_decay, jit_update
from ...physics import TIME, stochastic_heat
from .base import data_seed
from ...smdp.metrics import reconstruction_mse, spectral_error

EXAMPLES = 'examples'
TRAINED_WITH = smdp.MULTI_STEP
MODEL_METHODS = {'smdp': ('smdp-ode', 'smdp-sde'), 's-only': ('s-only-ode', 's-only-sde'), 'supervised': ('supervised',)}
METHOD_MODEL = {method: model for model, methods in MODEL_METHODS.items() for method in methods}


@dataclass
class StochasticHeatScene:
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

    def config(self) -> dict:
        return {'train_size': self.train_size, 'test_size': self.test_size, 'resolution': self.resolution, 'time_steps': self.steps,
                'end_time': self.end_time, 'diffusion': self.diffusion, 'filters': self.filters, 'levels': self.levels,
                'jitter': self.jitter}

    @property
    def dt(self) -> float:
        return self.end_time / self.steps

    def nominal_times(self) -> Tensor:
        return math.tensor(np.linspace(0, self.end_time, self.steps + 1, dtype=np.float32), batch(TIME))

    def grid(self, values: Tensor) -> CenteredGrid:
        return CenteredGrid(values, extrapolation.PERIODIC, stochastic_heat.DOMAIN, x=self.resolution, y=self.resolution)

    def physics(self, model: str) -> smdp.reverse.ReversePhysics:
        """`P̃⁻¹`: the forward step with `−Δt` applied to its increment (`smdp`), or none (`s-only`)."""
        return smdp.negated_increment(stochastic_heat.deterministic_step) if model == 'smdp' else smdp.no_physics

    def network(self, model: str):
        return nn.u_net(1 if model == 'supervised' else 2, 1, levels=self.levels, filters=self.filters, batch_norm=False,
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

    def loss_function(self, net, model: str) -> Callable[..., Tensor]:
        """Mean loss over a batch of value tensors: multi-step loss (`smdp`, `s-only`) or `‖NN(x_T) − x_0‖²`."""
        if model == 'supervised':
            def supervised_loss(x_end: Tensor, x0: Tensor) -> Tensor:
                return math.mean(math.sum((math.native_call(net, x_end) - x0) ** 2, spatial), EXAMPLES)
            return supervised_loss
        step = smdp.reverse_step(self.physics(model), self.correction(net))

        def multi_step_loss(window: Tensor, times: Tensor) -> Tensor:
            return math.mean(smdp.multi_step_loss(step, self.grid(window), times), EXAMPLES)
        return multi_step_loss

    def reconstruct(self, net, model: str, sampler: str, observation: Optional[CenteredGrid] = None,
                    samples: Optional[int] = None, seed: int = 0) -> CenteredGrid:
        """`x̂_0` for `observation` (default: the test observations), by `sampler` `'ode'`, `'sde'` or `'direct'`."""
        observation = self.test_observation if observation is None else observation
        if model == 'supervised':
            return observation.with_values(math.native_call(net, observation.values))
        correction = math.jit_compile(self.correction(net)) if sampler == 'ode' else self.correction(net)
        if sampler == 'ode':
            predictor = smdp.probability_flow(self.physics(model), correction, TRAINED_WITH)
        else:
            math.seed(seed)
            predictor = smdp.reverse_sde(self.physics(model), correction, self.diffusion, TRAINED_WITH)
        return smdp.sample(observation, self.nominal_times(), predictor, samples=samples)

    def evaluate(self, net, model: str, chunk: int = 100) -> Dict[str, Dict[str, float]]:
        """Reconstruction MSE and spectral error on the test set, for each method of `model`."""
        results = {}
        for method in MODEL_METHODS[model]:
            sampler = method.rsplit('-', 1)[-1]
            mse, spectral = [], []
            for start in range(0, self.test_size, chunk):
                part = {EXAMPLES: slice(start, start + chunk)}
                x0_pred = self.reconstruct(net, model, sampler, self.test_observation[part])
                x0 = self.test_initial[part]
                mse.append(reconstruction_mse(x0_pred, x0, lambda x: stochastic_heat.deterministic_step(x, self.end_time)).numpy(EXAMPLES))
                spectral.append(spectral_error(x0_pred, x0).numpy(EXAMPLES))
            results[method] = {'mse': float(np.mean(np.concatenate(mse))), 'spectral_error': float(np.mean(np.concatenate(spectral)))}
        return results


@dataclass(frozen=True)
class HeatTraining:
    """How a model is trained.

    Attributes:
        window: `S_max` of the multi-step loss (the curriculum grows `S` from 2).
        learning_rate: Initial Adam learning rate, decaying to `final_learning_rate` (cosine).
        final_learning_rate: Final learning rate.
        final_fraction: Fraction of the run at `S_max`.
    """
    window: int = 8
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-4
    final_fraction: float = .5

    def schedule(self, steps: int) -> Schedule:
        """Cosine decay of the learning rate over `steps` (pass it to `jit_update.adam`)."""
        return cosine_decay(self.learning_rate, self.final_learning_rate, steps)


def make_step(scene: StochasticHeatScene, model: str, training: HeatTraining, net, optimizer, steps: int,
              batch_size: int, seed: int, jit: bool = True) -> Callable[[int], float]:
    """Training step `i`: data of step `i` from the seed, window size of step `i`, one compiled (or eager) update.

    `optimizer` should come from `jit_update.adam(net, training.schedule(steps))`.
    """
    update = jit_update(net, optimizer, scene.loss_function(net, model), jit)
    window = smdp.WindowCurriculum.spread(training.window, steps, final_fraction=training.final_fraction) if training.window > 2 else (lambda i: 2)

    def step(i: int) -> float:
        data = scene.pairs(batch_size, data_seed(seed, 1, i)) if model == 'supervised' else scene.windows(window(i), batch_size, data_seed(seed, 1, i))
        return float(update(*data))
    return step
