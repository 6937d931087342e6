"""SMDP stochastic heat scene: recover `x_0` from `x_T` of `dx = ∆x dt + g dW` on a periodic 2π box (SMDP paper,
section 4.2 and appendix D).

Data: initial states are Gaussian random fields with power spectrum `∝ |k|^−4`, normalised to zero mean and unit
variance (the authors normalise by the data set's statistics); trajectories `t ∈ [0, 0.2]`, `Δt = 0.2/32`,
`g = 0.1` are simulated for every training batch with fresh noise, on a time grid whose interior points are
jittered within `±Δt/2`. With `sweep`, every window position of one simulated batch is an optimizer step of its
own, as in the authors' training. Test observations `x_T` come from one fixed stochastic simulation of the test
initial states; a second set, `P_T(x_0) + 0.01·z` (the observations of the authors' evaluation code), is
evaluated alongside (metrics with the suffix `_clean`).

Methods and the entries they record:

* `smdp`: reverse physics `x − (P_Δt(x) − x)` plus a correction network, trained with the multi-step loss;
  sampled with the probability-flow ODE (`smdp-ode`) and the reverse SDE (`smdp-sde`, no noise on the last step).
* `s-only`: the same without reverse physics (`s-only-ode`, `s-only-sde`).
* `supervised`, `fno`, `bnn`: `x_T → x_0` with an L2 loss, predicting the residual `x_0 − x_T` as the authors'
  baselines do: the correction's architecture, a Fourier neural operator (Li et al. 2021; 12 modes, width 20, with
  the cell coordinates as two extra inputs: 465,377 parameters) and a U-net with Monte-Carlo dropout (Bayesian
  neural network, Gal & Ghahramani 2016), sampled once per observation.

Correction: `s_θ(x, t) = NN(x, t/T)/Δt`, so that `Δt·s_θ`, the change it makes per step, is the network's output,
and `NN`'s output layer starts at zero, so that training starts from the reverse physics alone. (The authors
write the correction as `½g²·NN` with `g = 1` in normalised units; at this `g`, `½g²Δt = 3·10⁻⁵` would leave a
freshly initialised correction without effect for most of a CPU-sized run.)
"""
import weakref
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from phi import math
from phi.field import CenteredGrid
from phi.math import Tensor, batch, channel, extrapolation, spatial

from ... import smdp
from ...physics import TIME, stochastic_heat
from ...support import dropout_u_net, networks
from ...support.jit import jit_with_networks
from ..methods import Method
from ..smdp_objectives import MultiStep, Supervised
from .base import Scene, data_seed
from .stochastic_heat_evaluation import CLEAN_NOISE, EXAMPLES, StochasticHeatEvaluation
from .stochastic_heat_networks import NETWORKS, baseline_network, shared_network

SAMPLERS = ('ode', 'sde')
LEARNING_RATES = dict(learning_rate=1e-3, final_learning_rate=1e-4)
CURRICULUM_START = 6
"""The authors grow the window from `S = 6` by 2."""


@dataclass
class StochasticHeatScene(StochasticHeatEvaluation, Scene):
    """Data, physics, networks and evaluation of the stochastic heat equation.

    Args:
        train_size: Number of training initial states (paper: 2500).
        test_size: Number of test initial states and observations (paper: 500).
        seed: Seeds data and test observations.
        resolution: Cells per side.
        steps: Time steps from 0 to `end_time`.
        end_time: `T`.
        diffusion: `g`.
        network: Architecture of the correction and the `supervised` baseline: `'fno'` (a Fourier neural operator
            of `width` channels on the lowest `modes` modes, with a `projection`-wide output layer), `'u-net'`
            (PhiML's periodic U-net with residual blocks, `filters` channels, `levels` levels) or
            `'encoder-decoder'` (the authors' periodic ResNet, 330,754 parameters).
        width: Channels of the FNO.
        modes: Fourier modes per direction of the FNO's spectral layers.
        projection: Width of the FNO's output layer.
        filters: Channels of the U-net and of the `bnn` baseline's dropout U-net.
        levels: Resolution levels of the U-net. Four let its receptive field span the 32-cell domain: the lowest
            modes, which the reconstruction MSE weights most, are global.
        bnn_levels: Resolution levels of the `bnn` baseline's dropout U-net.
        jitter: Jitter the interior time points of every training batch.
        window: `S_max` of the multi-step loss of `smdp` and `s-only`; the curriculum grows `S` from 6 by 2.
        sweep: Train on every window position of one simulated batch in turn (the authors' training) instead of a
            new batch and a random position every step.
        dropout: Dropout rate of the `bnn` baseline.
        gradient_clip: If set, every method clips its gradient to this global norm (the authors' code: 10).
    """
    train_size: int = 2500
    test_size: int = 500
    seed: int = 0
    resolution: int = 32
    steps: int = 32
    end_time: float = .2
    diffusion: float = .1
    network: str = 'fno'
    width: int = 20
    modes: int = 12
    projection: int = 32
    filters: int = 16
    levels: int = 4
    bnn_levels: int = 3
    jitter: bool = True
    window: int = 16
    sweep: bool = True
    dropout: float = .1
    gradient_clip: Optional[float] = None
    initial: np.ndarray = field(init=False, repr=False)
    test_initial: CenteredGrid = field(init=False, repr=False)
    test_observation: CenteredGrid = field(init=False, repr=False)
    clean_observation: CenteredGrid = field(init=False, repr=False)
    _trajectories: dict = field(init=False, repr=False, default_factory=dict)
    _compiled: weakref.WeakKeyDictionary = field(init=False, repr=False, default_factory=weakref.WeakKeyDictionary)

    name = 'stochastic_heat'

    def __post_init__(self):
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS} but got '{self.network}'.")
        with math.NUMPY:
            math.seed(data_seed(self.seed, 0))
            self.initial = stochastic_heat.gaussian_random_field(batch(examples=self.train_size), self.resolution).values.numpy(f'{EXAMPLES},x,y')
            math.seed(data_seed(self.seed, 2))
            x0 = stochastic_heat.gaussian_random_field(batch(examples=self.test_size), self.resolution)
            x_end = stochastic_heat.simulate(x0, self.nominal_times(), self.diffusion)[{TIME: -1}]
            clean = stochastic_heat.deterministic_step(x0, self.end_time)
            clean = clean.with_values(clean.values + CLEAN_NOISE * math.random_normal(clean.values.shape))
        self.test_initial, self.test_observation, self.clean_observation = math.convert(x0), math.convert(x_end), math.convert(clean)
        self.methods = self.default_methods()

    def default_methods(self) -> Dict[str, Method]:
        sweep = self.steps if self.sweep else 0
        multi_step = dict(first=CURRICULUM_START, increment=2, sweep=sweep)
        optimizer = dict(LEARNING_RATES, gradient_clip=self.gradient_clip)
        return {
            'smdp': Method(MultiStep(self.window, **multi_step), variants=SAMPLERS, **optimizer),
            's-only': Method(MultiStep(self.window, reverse_physics=False, **multi_step), variants=SAMPLERS, **optimizer),
            'supervised': Method(Supervised(), **optimizer),
            'fno': Method(Supervised('fno'), **optimizer),
            'bnn': Method(Supervised('bnn'), **optimizer),
        }

    def config(self) -> dict:
        return {'train_size': self.train_size, 'test_size': self.test_size, 'resolution': self.resolution, 'time_steps': self.steps,
                'end_time': self.end_time, 'diffusion': self.diffusion, 'network': self.network, 'width': self.width,
                'modes': self.modes, 'projection': self.projection, 'filters': self.filters,
                'levels': self.levels, 'bnn_levels': self.bnn_levels, 'jitter': self.jitter, 'window': self.window, 'sweep': self.sweep, 'dropout': self.dropout,
                'gradient_clip': self.gradient_clip}

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
        return networks.zero_output(shared_network(self, inputs=2))

    def supervised_network(self, architecture: str = ''):
        """The network of a supervised baseline: `''` (the correction's architecture), `'fno'` or `'bnn'`."""
        return baseline_network(self, architecture)

    def correction(self, net) -> smdp.reverse.Correction:
        """`s_θ(x, t) = NN(x, t/T)/Δt`, grid in, grid out."""
        def correction(x: CenteredGrid, t: Tensor) -> CenteredGrid:
            time_channel = math.expand(t / self.end_time, x.values.shape)
            features = math.stack([x.values, time_channel], channel(vector='x,t'))
            return x.with_values(math.native_call(net, features) / self.dt)
        return correction

    def predict(self, net, architecture: str, x_end: Tensor, *mask_noise: Tensor) -> Tensor:
        """A supervised baseline's `x̂_0 = x_T + NN(x_T)`. The FNO also sees the cell coordinates in `[0, 1]`; the BNN
        takes its dropout masks from `mask_noise` (`dropout_u_net.dropout_noise`) or, without, draws them itself."""
        if architecture == 'fno':
            coordinates = [math.expand(math.linspace(0, 1, spatial(**{dim: self.resolution})), x_end.shape) for dim in 'xy']
            x_end_features = math.stack([x_end, *coordinates], channel(vector='x,cx,cy'))
            return x_end + math.native_call(net, x_end_features)
        return x_end + math.native_call(net, x_end, *mask_noise)

    def trajectories(self, count: int, seed: int) -> Tuple[Tensor, Tensor]:
        """`count` trajectories `x_0 … x_M` from random training initial states, on one jittered time grid, drawn
        from `seed`; the last batch drawn is kept, so that the windows of a sweep share it.

        Returns:
            The states' values along (`examples`, `time`, x, y) and their times along `time`.
        """
        if (count, seed) not in self._trajectories:
            rng = np.random.default_rng(seed)
            with math.NUMPY:
                math.seed(seed)
                times = smdp.jitter_times(self.nominal_times(), self.dt) if self.jitter else self.nominal_times()
                x0 = self.grid(math.tensor(self.initial[rng.integers(0, self.train_size, count)], batch(EXAMPLES), spatial('x,y')))
                trajectory = stochastic_heat.simulate(x0, times, self.diffusion)
            self._trajectories.clear()
            self._trajectories[count, seed] = math.convert(trajectory.values), math.convert(times)
        return self._trajectories[count, seed]

    def windows(self, size: int, count: int, seed: int, position: Optional[int] = None) -> Tuple[Tensor, Tensor]:
        """`count` training windows of `size` states and their times along `time`.

        Args:
            position: Which window of the trajectories drawn from `seed`: 0 ends at `x_T`, each next one a step
                earlier, wrapping around after the first window (`x_0 … x_{S−1}`). `None` draws the position from
                `seed`.
        """
        trajectory, times = self.trajectories(count, seed)
        positions = self.steps + 2 - size
        if position is None:
            position = int(np.random.default_rng([seed, 1]).integers(0, positions))
        end = self.steps - position % positions
        window = {TIME: slice(end + 1 - size, end + 1)}
        return trajectory[window], times[window]

    def pairs(self, count: int, seed: int, architecture: str = '') -> tuple:
        """`count` supervised pairs (`x_T`, `x_0`) as value tensors along `examples`, from fresh noise, and for the
        BNN the uniform noise of its dropout masks."""
        trajectory, _ = self.trajectories(count, seed)
        pair = trajectory[{TIME: -1}], trajectory[{TIME: 0}]
        if architecture != 'bnn':
            return pair
        with math.NUMPY:
            math.seed(seed)
            noise = math.random_uniform(batch(**{EXAMPLES: count}), channel(mask=dropout_u_net.masks_per_example(self.filters, self.bnn_levels)))
        return (*pair, math.convert(noise))

    def supervised_loss(self, net, architecture: str = '') -> Callable[..., Tensor]:
        """`‖x̂_0 − x_0‖²` summed over cells, mean over a batch of value tensors (and the BNN's mask noise)."""
        def loss(x_end: Tensor, x0: Tensor) -> Tensor:
            return math.mean(math.sum((self.predict(net, architecture, x_end) - x0) ** 2, spatial), EXAMPLES)

        def bnn_loss(x_end: Tensor, x0: Tensor, mask_noise: Tensor) -> Tensor:
            return math.mean(math.sum((self.predict(net, architecture, x_end, mask_noise) - x0) ** 2, spatial), EXAMPLES)
        return bnn_loss if architecture == 'bnn' else loss

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
        (`sampler=None`) by a supervised baseline."""
        observation = self.test_observation if observation is None else observation
        math.seed(seed)
        if sampler is None:
            return observation.with_values(math.stop_gradient(self.predict(net, method.objective.architecture, observation.values)))
        physics, loss = self.physics(method.objective.reverse_physics), method.objective.trained_with
        correction = self.compiled_correction(net)
        if sampler == 'ode':
            return smdp.sample(observation, self.nominal_times(), smdp.probability_flow(physics, correction, loss), samples=samples)
        denoised = smdp.probability_flow(physics, correction, correction_factor=loss.sde_factor)
        return smdp.sample(observation, self.nominal_times(), smdp.reverse_sde(physics, correction, self.diffusion, loss),
                           samples=samples, last=denoised)

    def compiled_correction(self, net) -> smdp.reverse.Correction:
        """The correction of `net` for sampling: compiled once per network (every compiled function keeps traces of its
        own) and without gradients, so that a rollout does not keep the activations of every step."""
        if net not in self._compiled:
            correction = self.correction(net)

            def without_gradient(x: CenteredGrid, t: Tensor) -> CenteredGrid:
                return x.with_values(math.stop_gradient(correction(x, t).values))
            self._compiled[net] = jit_with_networks(without_gradient, net)
        return self._compiled[net]
