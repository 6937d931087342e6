"""SMDP buoyancy-driven flow with obstacles: recover the state at `t = 0.35` from the state at `t = 0.65`, and the
trajectory in between (SMDP paper, section 4.3 and appendix E).

The state is `physics.buoyancy.FlowState(smoke, velocity)`; SMDP's losses and samplers take it as it is. Data is
deterministic (`g = 0`): the start of each training window is perturbed with Gaussian noise `σ = 0.1·√Δt = 0.01`
and the reverse SDE samples with `g = 0.1`, a one-step increment `g·√Δt` of the same size. These are the values of
the authors' code (tum-pbs/SMDP, `buoyancy-flow`: training and inference noise 0.1, scaled by `√Δt`); the paper's
appendix A.3 writes `σ = √Δt`, ten times more. The targets stay clean, as in the authors' code.

Methods and the entries they record:

* `smdp`: reverse physics `P̃⁻¹` (`physics.buoyancy.reverse_step`) plus a correction network, multi-step loss
  with `S` growing from 2 to `window`; sampled as the probability-flow ODE (`smdp-ode`, `C = 1`) and the reverse
  SDE (`smdp-sde`, `C = 1`, the factor the paper found better than 2 here).
* `s-only`: the same without reverse physics (`s-only-ode`, `s-only-sde`).
* `reverse-only` and `lbfgs` train nothing: `evaluate_baseline` evaluates them (`demos/buoyancy.py`).

Network: PhiML's ResNet (3×3 convolutions, no dilation) on `(smoke, v_x, v_y, obstacle mask, t/T)` at cell
centres, three outputs (marker, centred velocity, interpolated to the faces).
"""
from dataclasses import dataclass, field
from functools import cached_property
from typing import Dict, Optional, Tuple

import numpy as np
from phi import field as phi_field, math
from phi.math import Tensor, batch, channel
from phiml import nn

from ... import smdp
from ...physics import TIME, buoyancy
from ...smdp.metrics import spectral_error
from ...support import networks
from ..methods import Method
from ..smdp_objectives import MultiStep
from . import buoyancy_data as data
from .base import Scene
from .buoyancy_metrics import lbfgs_reconstruction, ssim

EXAMPLES = data.EXAMPLES
SAMPLERS = ('ode', 'sde')
LEARNING_RATES = dict(learning_rate=1e-3, final_learning_rate=1e-4)
BASELINES = ('reverse-only', 'lbfgs')
FRAMES = data.END_STEP - data.START_STEP + 1


@dataclass
class BuoyancyScene(Scene):
    """Data, physics, networks and evaluation of buoyancy-driven flow with obstacles.

    Args:
        train_size: Training simulations (paper: 250).
        test_size: Test simulations (paper: 5).
        seed: Seeds the data (obstacles) of both sets.
        resolution: Cells per side of the 100 × 100 domain (paper: 64).
        window: `S_max` of the multi-step loss (paper: 20).
        filters: Channels of the ResNet (paper: 48).
        blocks: Residual blocks (paper: 4).
        noise: `σ` of the training noise (authors' code: `0.1·√Δt = 0.01`).
        diffusion: `g` of the reverse SDE (authors' code: 0.1).
        lbfgs_iterations: Iterations of the L-BFGS baseline (authors: 10 × 4).
    """
    train_size: int = 250
    test_size: int = 5
    seed: int = 0
    resolution: int = 64
    window: int = 20
    filters: int = 48
    blocks: int = 4
    noise: float = .01
    diffusion: float = .1
    lbfgs_iterations: int = 40
    train: Dict[str, np.ndarray] = field(init=False, repr=False)
    test: Dict[str, np.ndarray] = field(init=False, repr=False)

    name = 'buoyancy'

    def __post_init__(self):
        if self.noise < 0 or self.diffusion < 0:
            raise ValueError(f"noise and diffusion scale Gaussian noise and must be ≥ 0, got noise={self.noise}, "
                             f"diffusion={self.diffusion}; the authors' values are noise=0.01, diffusion=0.1.")
        self.train = data.dataset('train', self.train_size, self.resolution, self.seed)
        self.test = data.dataset('test', self.test_size, self.resolution, self.seed + 10_000)
        self.methods = {
            'smdp': Method(MultiStep(self.window), variants=SAMPLERS, **LEARNING_RATES),
            's-only': Method(MultiStep(self.window, reverse_physics=False), variants=SAMPLERS, **LEARNING_RATES),
        }

    def config(self) -> dict:
        return {'train_size': self.train_size, 'test_size': self.test_size, 'resolution': self.resolution, 'window': self.window,
                'filters': self.filters, 'blocks': self.blocks, 'noise': self.noise, 'diffusion': self.diffusion,
                'lbfgs_iterations': self.lbfgs_iterations, 'frames': FRAMES, 'dt': buoyancy.TIME_STEP}

    def times(self) -> Tensor:
        """`t = 0.35 … 0.65` along `time`."""
        return math.tensor(buoyancy.TIME_STEP * np.arange(data.START_STEP, data.END_STEP + 1, dtype=np.float32), batch(TIME))

    def obstacles(self, arrays: Dict[str, np.ndarray], index=slice(None)) -> Tuple[Tensor, ...]:
        return data.obstacle_tensors(arrays, index)

    def physics(self, parameters, reverse_physics: bool = True, compiled: bool = False) -> smdp.reverse.ReversePhysics:
        """`P̃⁻¹` with the obstacles `parameters`, or none (`s-only`); `compiled` (no gradients) for inference."""
        if not reverse_physics:
            return smdp.no_physics
        if compiled:
            return lambda x, t, dt: buoyancy.compiled_reverse_step(x, parameters, t)
        geometry = buoyancy.obstacles(*parameters)
        return lambda x, t, dt: buoyancy.reverse_step(x, geometry, t, dt)

    def correction_network(self):
        """PhiML's ResNet with a zero output layer (`networks.zero_output`): SMDP starts as `P̃⁻¹` alone."""
        return networks.zero_output(nn.res_net(5, 3, [self.filters] * self.blocks, batch_norm=False, activation='ReLU'))

    def correction(self, net, parameters) -> smdp.reverse.Correction:
        """`s_θ(x, t) = NN(s, v, mask, t/T)`, FlowState in, FlowState out: a fresh network changes each step by
        `Δt·NN`, so SMDP starts close to `P̃⁻¹` alone."""
        def correction(x: buoyancy.FlowState, t: Tensor) -> buoyancy.FlowState:
            mask = buoyancy.obstacle_mask(buoyancy.obstacles(*parameters), x.smoke).values
            centred = x.velocity.at_centers().values
            time_channel = math.expand(t / (data.END_STEP * buoyancy.TIME_STEP), x.smoke.values.shape)
            features = math.stack([x.smoke.values, centred.vector['x'], centred.vector['y'], mask, time_channel],
                                  channel(vector='s,vx,vy,mask,t'))
            out = math.native_call(net, features)
            smoke = x.smoke.with_values(out.vector[0])
            velocity = x.velocity.at_centers().with_values(math.rename_dims(out.vector[1:], 'vector', channel(vector='x,y')))
            return buoyancy.FlowState(smoke, phi_field.resample(velocity, to=x.velocity))
        return correction

    def windows(self, size: int, count: int, seed: int) -> tuple:
        """`count` windows of `size` frames of random training simulations, training noise `σ` on the last frame (the
        rollout's start), their times and the simulations' obstacle parameters."""
        rng = np.random.default_rng(seed)
        simulation = rng.integers(0, self.train_size, count)
        start = int(rng.integers(0, FRAMES + 1 - size))
        frames = {key: self.train[key][simulation, start:start + size] for key in ('smoke', 'velocity_x', 'velocity_y')}
        with math.NUMPY:
            math.seed(seed)
            window = smdp.add_training_noise(data.flow_state(frames, self.resolution), self.noise, start_only=True)
        times = self.times()[{TIME: slice(start, start + size)}]
        return (math.convert(window), math.convert(times), *(math.convert(p) for p in self.obstacles(self.train, simulation)))

    def multi_step_loss(self, net, reverse_physics: bool = True):
        """The multi-step loss, mean over a batch of windows."""
        def loss(window, times, box_lower, box_upper, sphere_center, sphere_radius) -> Tensor:
            parameters = (box_lower, box_upper, sphere_center, sphere_radius)
            buoyancy.forget_projection_traces()
            step = smdp.reverse_step(self.physics(parameters, reverse_physics), self.correction(net, parameters))
            return math.mean(smdp.multi_step_loss(step, window, times), EXAMPLES)
        return loss

    def test_set(self, size: int, seed: int):
        """Ground-truth trajectories `t = 0.35 … 0.65` of the test simulations and their obstacle parameters."""
        if size != self.test_size:
            raise ValueError(f"This scene holds {self.test_size} test simulations, not {size}; create it with test_size={size}.")
        return self._test_trajectories

    @cached_property
    def _test_trajectories(self):
        return data.flow_state(self.test, self.resolution), self.obstacles(self.test)

    def reconstruct(self, net, method: Optional[Method], sampler: Optional[str], trajectory: bool = False, seed: int = 0):
        """The reverse trajectory (or `x̂(0.35)`) from the test observations at `t = 0.65`; `net=None`: `P̃⁻¹` alone."""
        truth, parameters = self.test_set(self.test_size, self.seed)
        observation = truth[{TIME: -1}]
        reverse_physics = method is None or method.objective.reverse_physics
        physics = self.physics(parameters, reverse_physics, compiled=True)
        correction = None if net is None else self.correction(net, parameters)
        trained_with = None if method is None else method.objective.trained_with
        if sampler == 'sde':
            math.seed(seed)
            predictor = smdp.reverse_sde(physics, correction, self.diffusion, trained_with)
        else:
            predictor = smdp.probability_flow(physics, correction, trained_with)
        return smdp.sample(observation, self.times(), predictor, trajectory=trajectory)

    def metrics(self, reconstruction: buoyancy.FlowState) -> Dict[str, float]:
        """Reconstruction MSE (`x̂(0.35)` simulated to 0.65, marker against the truth), MSE of the state at 0.35,
        spectral error and SSIM of the marker at 0.35, mean over the test simulations."""
        truth, parameters = self.test_set(self.test_size, self.seed)
        start, end = truth[{TIME: 0}], truth[{TIME: -1}]
        state = reconstruction
        for t in self.times()[{TIME: slice(0, -1)}]:
            state = buoyancy.compiled_step(state, parameters, t)
        values = {
            'mse': _mean_square(state.smoke.values - end.smoke.values),
            'mse_state': _mean_square(reconstruction.smoke.values - start.smoke.values),
            'mse_velocity': _mean_square(reconstruction.velocity.values - start.velocity.values),
            'spectral_error': spectral_error(reconstruction.smoke, start.smoke),
            'ssim': ssim(reconstruction.smoke.values.numpy(f'{EXAMPLES},x,y'), start.smoke.values.numpy(f'{EXAMPLES},x,y')),
        }
        return {key: float(np.mean(v.numpy(EXAMPLES) if isinstance(v, Tensor) else v)) for key, v in values.items()}

    def evaluate(self, net, method: Method, test_set, chunk: int) -> Dict[str, Dict[str, float]]:
        return {sampler: self.metrics(self.reconstruct(net, method, sampler)) for sampler in method.variants}

    def evaluate_baseline(self, name: str) -> Tuple[Dict[str, float], buoyancy.FlowState]:
        """Metrics and reconstruction of `reverse-only` (`P̃⁻¹` alone) or `lbfgs` (started from `reverse-only`)."""
        if name not in BASELINES:
            raise ValueError(f"Unknown baseline '{name}'; choose from {BASELINES}.")
        reconstruction = self.reconstruct(None, None, None)
        if name == 'lbfgs':
            truth, parameters = self.test_set(self.test_size, self.seed)
            reconstruction = lbfgs_reconstruction(reconstruction, truth[{TIME: -1}], parameters, self.times(), self.lbfgs_iterations)
        return self.metrics(reconstruction), reconstruction


def _mean_square(difference: Tensor) -> Tensor:
    """Mean of the squares over all but the batch dimensions (cells and components), per example."""
    return math.mean(difference ** 2, difference.shape.non_batch)
