"""SMDP forced turbulence scene: recover `ω(0)` from `ω(T)` with a learned reverse physics step (SMDP paper,
section 4.4, appendix F).

Data: vorticity trajectories of `∂ω/∂t + u·∇ω = νΔω + f` (`phi_inverse.physics.vorticity`, Li et al.'s setup),
`t = 0 … T` recorded every `Δt = 1`, simulated once and cached (`turbulence_data`). The test set (or, with
`evaluate_on='validation'`, a validation set) holds separate trajectories; the observation is `ω(T)` and the target
`ω(0)`.

Reverse step. The data are deterministic, so the scene follows the paper's split update for deterministic
simulations (appendix A.3, figure 7c): a physics-only step, additive noise, then the correction as a denoiser,

    x̂ = P̃⁻¹(x),    x̂ ← x̂ + g·√Δt·z,    x_prev = x̂ + Δt·C·s_θ(x̂, t − Δt).

`g` is a hyperparameter of the noise added to the data (here `diffusion = 0.03`, an eighth of the standard
deviation of `ω(0)`, chosen on validation trajectories: `evaluate_on='validation'`): training draws `z` for every
step of a window (passed in as data), the SDE sampler draws it anew, the probability-flow ODE leaves it out.
`C = 1` for both samplers (`trained_with=MULTI_STEP`).

`P̃⁻¹(x) = x + FNO(x, sin 2π(x+y), cos 2π(x+y))`: the FNO of Li et al. with the forcing's two phases as
(periodic) positional channels, 465,377 parameters at 12 modes and width 20; time-independent. `s_θ(x, t)`: the
periodic residual U-net of the stochastic heat scene on `(x, t/T)`.

Methods and the entries they record:

* `surrogate-only`: `P̃⁻¹` trained with the multi-step loss, `s_θ ≡ 0` (stage 1, `staged.Surrogate`);
* `smdp`: `s_θ` trained with the multi-step loss on the frozen `P̃⁻¹` of `surrogate-only` (stage 2,
  `staged.OnFrozen`), sampled as `smdp-ode` and `smdp-sde`;
* `simultaneous`: `P̃⁻¹` and `s_θ` trained together (`staged.Simultaneous`): `simultaneous-ode`, `-sde`.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np
from phi import math
from phi.field import CenteredGrid
from phi.math import Tensor, batch, channel, spatial
from phiml import nn

from ... import smdp
from ...physics import TIME, vorticity
from ...smdp.metrics import spectral_error
from ...support import networks
from ...support.fno import fno, stacked
from ..methods import Method
from ..staged import OnFrozen, Simultaneous, Surrogate, freeze
from . import turbulence_data
from .base import Scene, data_seed

EXAMPLES = turbulence_data.EXAMPLES
NOISE_STREAM = 11
SAMPLERS = ('ode', 'sde')
LEARNING_RATES = dict(learning_rate=1e-3, final_learning_rate=1e-4)
SURROGATE = 'surrogate-only'


@dataclass
class TurbulenceScene(Scene):
    """Data, surrogate, correction and evaluation of forced 2-D turbulence.

    Args:
        train_size: Training trajectories (paper: 1000).
        test_size: Test trajectories.
        evaluate_on: `'test'`, or `'validation'`: held-out trajectories of their own seed stream, for choosing
            hyperparameters such as `diffusion` without looking at the test set.
        seed: Seeds data and test set.
        resolution: Cells per side (paper: 64).
        end_time: `T` (paper: 10), recorded every `record_interval` (paper: 1).
        viscosity: `ν` (paper: 1e-5).
        diffusion: `g` of the split reverse step (see the module docstring).
        window: `S_max` of the multi-step loss (paper: 10).
        modes, width: FNO Fourier modes and channels (paper: 12, 20).
        filters, levels: U-net channels and resolution levels of `s_θ`.
        say: Receives the data cache's messages.
    """
    train_size: int = 1000
    test_size: int = 100
    evaluate_on: str = 'test'
    seed: int = 0
    resolution: int = 64
    end_time: float = 10.
    record_interval: float = 1.
    viscosity: float = vorticity.VISCOSITY
    diffusion: float = .03
    window: int = 10
    modes: int = 12
    width: int = 20
    filters: int = 16
    levels: int = 2
    say: Callable[[str], None] = print
    train: np.ndarray = field(init=False, repr=False)
    test_trajectories: CenteredGrid = field(init=False, repr=False)
    trained: Dict[str, object] = field(init=False, repr=False)

    name = 'turbulence'

    def __post_init__(self):
        if self.evaluate_on not in turbulence_data.EVALUATION_SPLITS:
            raise ValueError(f"evaluate_on must be one of {turbulence_data.EVALUATION_SPLITS}, not '{self.evaluate_on}'")
        common = dict(resolution=self.resolution, seed=self.seed, end_time=self.end_time, record_interval=self.record_interval,
                      viscosity=self.viscosity, say=self.say)
        self.train = turbulence_data.trajectories('train', self.train_size, **common)
        test = turbulence_data.trajectories(self.evaluate_on, self.test_size, **common)
        self.test_trajectories = self.grid(math.tensor(test, batch(EXAMPLES), batch(TIME), spatial('x,y')))
        self.trained = {}
        windows = dict(window=self.window)
        self.methods = {
            SURROGATE: Method(Surrogate(**windows), **LEARNING_RATES),
            'smdp': Method(OnFrozen(stage=SURROGATE, **windows), variants=SAMPLERS, **LEARNING_RATES),
            'simultaneous': Method(Simultaneous(**windows), variants=SAMPLERS, **LEARNING_RATES),
        }

    def config(self) -> dict:
        return {'train_size': self.train_size, 'test_size': self.test_size, 'evaluate_on': self.evaluate_on,
                'resolution': self.resolution, 'end_time': self.end_time, 'record_interval': self.record_interval, 'viscosity': self.viscosity, 'diffusion': self.diffusion,
                'window': self.window, 'modes': self.modes, 'width': self.width, 'filters': self.filters, 'levels': self.levels,
                'cfl': vorticity.CFL}

    @property
    def steps(self) -> int:
        return int(round(self.end_time / self.record_interval))

    def nominal_times(self) -> Tensor:
        return math.tensor(np.arange(self.steps + 1, dtype=np.float32) * self.record_interval, batch(TIME))

    def grid(self, values: Tensor) -> CenteredGrid:
        return vorticity.grid(values)

    # networks

    def surrogate_network(self):
        return fno(3, 1, modes=self.modes, width=self.width)

    def correction_network(self):
        """`s_θ`'s U-net with a zero output layer (`networks.zero_output`): SMDP starts as `P̃⁻¹` alone."""
        return networks.zero_output(self._u_net(inputs=2))

    def joint_network(self):
        """One network with `P̃⁻¹`'s FNO and `s_θ`'s U-net (zero output layer) side by side, both on `(x, sin, cos, t/T)`."""
        return stacked(fno(4, 1, modes=self.modes, width=self.width), networks.zero_output(self._u_net(inputs=4)))

    def _u_net(self, inputs: int):
        return nn.u_net(inputs, 1, levels=self.levels, filters=self.filters, batch_norm=False,
                        activation=networks.activation('LeakyReLU'), periodic=True, use_res_blocks=True)

    def register_network(self, name: str, net):
        self.trained[name] = net

    def trained_network(self, name: str):
        """The network trained under method `name`, frozen; it must have been trained (or restored) before."""
        if name not in self.trained:
            raise ValueError(f"This method builds on the network of method '{name}', which has not been trained in this run. "
                             f"Train '{name}' first (list it before in --methods).")
        return freeze(self.trained[name])

    # the reverse step

    def _features(self, x: Tensor, t: Optional[Tensor] = None) -> Tensor:
        phase = 2 * np.pi * math.sum(self.grid(x).points, 'vector')
        parts = [x, math.expand(math.sin(phase), x.shape), math.expand(math.cos(phase), x.shape)]
        if t is not None:
            parts.append(math.expand(t / self.end_time, x.shape))
        return math.stack(parts, channel(vector=[f'c{i}' for i in range(len(parts))]))

    def surrogate(self, net, output: Optional[int] = None, with_time: bool = False) -> smdp.reverse.ReversePhysics:
        """`P̃⁻¹(x) = x + FNO(x, sin, cos)` (channel `output` of a joint network, which also sees `t/T`)."""
        def physics(x: CenteredGrid, t: Tensor, dt: Tensor) -> CenteredGrid:
            out = math.native_call(net, self._features(x.values, t if with_time else None))
            return x.with_values(x.values + (out if output is None else out.vector[output]))
        return physics

    def correction(self, net, output: Optional[int] = None, joint: bool = False) -> smdp.reverse.Correction:
        """`s_θ(x, t) = NN(x, t/T)/Δt` (channel `output` of a joint network, which also sees the forcing phases)."""
        def correction(x: CenteredGrid, t: Tensor) -> CenteredGrid:
            if joint:
                features = self._features(x.values, t)
            else:
                features = math.stack([x.values, math.expand(t / self.end_time, x.values.shape)], channel(vector='x,t'))
            out = math.native_call(net, features)
            return x.with_values((out if output is None else out.vector[output]) / self.record_interval)
        return correction

    def parts(self, net, method: Method) -> Tuple[smdp.reverse.ReversePhysics, Optional[smdp.reverse.Correction]]:
        """`(P̃⁻¹, s_θ)` of a network trained with `method`."""
        objective = method.objective
        if isinstance(objective, Surrogate):
            return self.surrogate(net), None
        if isinstance(objective, OnFrozen):
            return self.surrogate(self.trained_network(objective.stage)), self.correction(net)
        return self.surrogate(net, output=0, with_time=True), self.correction(net, output=1, joint=True)

    def split_step(self, physics, correction, factor: float = 1., noise: Optional[Callable[[], Tensor]] = None) -> smdp.reverse.ReverseStep:
        """`x̂ = P̃⁻¹(x) (+ g√Δt·z)`, `x_prev = x̂ + Δt·C·s_θ(x̂, t − Δt)` (paper appendix A.3, figure 7c)."""
        def step(x: CenteredGrid, t: Tensor, dt: Tensor) -> CenteredGrid:
            x_hat = physics(x, t, dt)
            if noise is not None:
                x_hat = x_hat.with_values(x_hat.values + self.diffusion * math.sqrt(dt) * noise())
            return x_hat if correction is None else x_hat + dt * factor * correction(x_hat, t - dt)
        return step

    # training

    def windows(self, size: int, count: int, seed: int, noise: bool = False) -> tuple:
        """`count` windows of `size` recorded states (values along `examples`, `time`, x, y), their times and, with
        `noise`, standard normal draws `z` shaped like the window (one per reverse step)."""
        rng = np.random.default_rng(seed)
        start = int(rng.integers(0, self.steps + 2 - size))
        values = self.train[rng.integers(0, self.train_size, count), start:start + size]
        window = math.tensor(values, batch(EXAMPLES), batch(TIME), spatial('x,y'))
        times = self.nominal_times()[{TIME: slice(start, start + size)}]
        if not noise:
            return window, times
        draws = np.random.default_rng([seed, NOISE_STREAM]).standard_normal(values.shape).astype(np.float32)
        return window, times, math.tensor(draws, window.shape)

    def _loss(self, physics, correction, with_noise: bool) -> Callable[..., Tensor]:
        def loss(window: Tensor, times: Tensor, noise: Tensor = None) -> Tensor:
            draws = _reverse_order(noise) if with_noise else None
            step = self.split_step(physics, correction, noise=(lambda: next(draws)) if with_noise else None)
            return math.mean(smdp.multi_step_loss(step, self.grid(window), times), EXAMPLES)
        return loss

    def surrogate_loss(self, net) -> Callable[..., Tensor]:
        return self._loss(self.surrogate(net), None, with_noise=False)

    def correction_loss(self, net, surrogate) -> Callable[..., Tensor]:
        return self._loss(self.surrogate(surrogate), self.correction(net), with_noise=True)

    def joint_loss(self, net) -> Callable[..., Tensor]:
        return self._loss(self.surrogate(net, output=0, with_time=True), self.correction(net, output=1, joint=True), with_noise=True)

    # evaluation

    def test_set(self, size: int, seed: int) -> Tuple[CenteredGrid, CenteredGrid]:
        """`(ω(0), ω(T))` of the test trajectories, generated with the scene's seed."""
        if size != self.test_size:
            raise ValueError(f"This scene holds {self.test_size} test trajectories, not {size}; create it with test_size={size}.")
        return self.test_trajectories[{TIME: 0}], self.test_trajectories[{TIME: -1}]

    def reconstruct(self, net, method: Method, sampler: Optional[str], observation: Optional[CenteredGrid] = None,
                    seed: int = 0, trajectory: bool = False) -> CenteredGrid:
        """`x̂_0` (or the trajectory `x̂_0 … x̂_T`) from `observation` (default: the test observations)."""
        observation = self.test_trajectories[{TIME: -1}] if observation is None else observation
        physics, correction = self.parts(net, method)
        factors = method.objective.trained_with
        if sampler == 'sde':
            math.seed(data_seed(seed, NOISE_STREAM))
            step = self.split_step(physics, correction, factors.sde_factor, noise=lambda: math.random_normal(observation.values.shape))
        else:
            step = self.split_step(physics, correction, factors.ode_factor)
        return smdp.sample(observation, self.nominal_times(), step, trajectory=trajectory)

    def evaluate(self, net, method: Method, test_set, chunk: int) -> Dict[str, Dict[str, float]]:
        """MSE `mean((x̂_0 − x_0)²)` and spectral error of `x̂_0`, for each sampler of `method`."""
        initial, observation = test_set
        results = {}
        for sampler in method.variants or (None,):
            x0_pred = self.reconstruct(net, method, sampler, observation)
            mse = math.mean((x0_pred.values - initial.values) ** 2, 'x,y')
            results[sampler or ''] = {'mse': float(math.mean(mse, EXAMPLES)),
                                      'spectral_error': float(math.mean(spectral_error(x0_pred, initial), EXAMPLES))}
        return results


def _reverse_order(noise: Tensor) -> Iterator[Tensor]:
    """The draws of a window in the order the multi-step loss takes its steps: the one for state `j − 1` at step `j`."""
    size = noise.shape.get_size(TIME)
    return (noise[{TIME: j - 1}] for j in range(size - 1, 0, -1))
