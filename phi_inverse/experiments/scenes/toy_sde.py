"""SMDP toy SDE scene: recover `x_0 ∈ {−1, 1}` from `x_T` of `dx = −λ·sign(x)x² dt + g dW` (SMDP paper, section 4.1).

Data: `trajectories` Euler–Maruyama paths (λ = 7, g = 0.03, Δt = 0.02, T = 10), starting alternately at +1 and
−1, generated with NumPy from the seed so that every backend trains on the same paths. Reverse physics
`P̃⁻¹(x) = λ·sign(x)x²`. Correction `s_θ(x, t)`: MLP with ELU, hidden 30, 30, 25, 20, 10, input
`(x/0.1, log t)` (the states near `x_T` spread over about ±0.1, and features of that size train much faster).
Evaluation: 1000 paths from `x_T` evenly spaced in [−0.1, 0.1] integrated back to `t = 0` with the ODE and the
SDE sampler; posterior metric `Q = 2·min(ρ₋₁, ρ₁)`.

This is an SMDP scene, trained by `phi_inverse.experiments.smdp_runner`, not a SIP `Scene`.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from phi import math
from phi.math import Tensor, batch, channel

from ...support import networks
from ... import smdp
from ...support.jit_update import Schedule, cosine_decay, jit_update
from ...physics import TIME, toy_sde
from .base import data_seed
from ...smdp.metrics import posterior_q

EXAMPLES = 'examples'
ISM_STEP = 1e-4
STATE_SCALE = .1


@dataclass(frozen=True)
class ToyMethod:
    """How `s_θ` is trained.

    Attributes:
        loss: `'multi-step'` (sliding window, curriculum `S = 2 → window`), `'1-step'` or `'ism'` (implicit score
            matching of `∇ₓ log p_t = s_θ/g²`).
        window: `S_max` of the multi-step loss.
        learning_rate: Adam learning rate at the start; it decays to `final_learning_rate` over the run.
        final_learning_rate: Learning rate at the end of the run (cosine decay).
        final_fraction: Fraction of the run trained at `S_max` (the curriculum grows `S` before).
    """
    loss: str
    window: int = 2
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-5
    final_fraction: float = .5

    @property
    def trained_with(self) -> smdp.TrainingLoss:
        """What the loss makes `s_θ` learn, which sets the samplers' correction factors (`smdp.samplers`)."""
        return {'multi-step': smdp.MULTI_STEP, '1-step': smdp.ONE_STEP, 'ism': smdp.ISM}[self.loss]

    @property
    def ode_factor(self) -> float:
        """`C` of the probability-flow ODE: ½ for the 1-step loss and ISM, 1 for the multi-step loss."""
        return self.trained_with.ode_factor

    def curriculum(self, steps: int) -> Callable[[int], int]:
        """The window size `S` of every training step: constant 2 for `1-step`, 2 → `window` for `multi-step`."""
        if self.loss != 'multi-step' or self.window == 2:
            return lambda i: 2
        return smdp.WindowCurriculum.spread(self.window, steps, final_fraction=self.final_fraction)

    def schedule(self, steps: int) -> Schedule:
        """Cosine decay from `learning_rate` to `final_learning_rate` over `steps` (pass it to `jit_update.adam`)."""
        return cosine_decay(self.learning_rate, self.final_learning_rate, steps)


METHODS = {
    'multi-step': ToyMethod('multi-step', window=10),
    '1-step': ToyMethod('1-step'),
    'ism': ToyMethod('ism'),
}


@dataclass
class ToySDEScene:
    """Data, reverse simulator, network and evaluation of the toy SDE.

    Args:
        trajectories: Number of training paths (2500 = the paper's 100 %).
        seed: Seeds the paths.
        strength: `λ`.
        diffusion: `g`.
        dt: `Δt`.
        steps: Time steps per path (`T = steps·Δt`).
        test_paths: Number of evaluation paths from `x_T ∈ [−0.1, 0.1]`.
        integrator: `'euler'` (the paper's `P̃⁻¹` step) or `'heun'` for the reverse physics.
        mirror: Flip the sign of random training windows. The SDE and `p_0` are symmetric under `x → −x`, so mirrored
            paths are equally likely data; the paper trains without this augmentation.
    """
    trajectories: int = 2500
    seed: int = 0
    strength: float = 7.
    diffusion: float = .03
    dt: float = .02
    steps: int = 500
    test_paths: int = 1000
    integrator: str = 'euler'
    mirror: bool = False
    paths: np.ndarray = field(init=False, repr=False)

    name = 'toy_sde'

    def __post_init__(self):
        with math.NUMPY:
            math.seed(self.seed)
            x0 = math.wrap(np.where(np.arange(self.trajectories) % 2 == 0, 1., -1.), batch(EXAMPLES))
            paths = toy_sde.simulate(toy_sde.quadratic_drift(self.strength), x0, self.diffusion, self.dt, self.steps)
        self.paths = paths.numpy([EXAMPLES, TIME]).astype(np.float32)

    def config(self) -> dict:
        return {'trajectories': self.trajectories, 'strength': self.strength, 'diffusion': self.diffusion,
                'dt': self.dt, 'time_steps': self.steps, 'test_paths': self.test_paths, 'integrator': self.integrator,
                'mirror': self.mirror}

    @property
    def times(self) -> Tensor:
        return math.tensor(np.arange(self.steps + 1, dtype=np.float32) * self.dt, batch(TIME))

    def physics(self) -> smdp.reverse.ReversePhysics:
        """The reverse drift `−f(x) = λ·sign(x)x²` integrated over `Δt` (Heun, or Euler as in the paper)."""
        integrator = smdp.heun if self.integrator == 'heun' else smdp.euler
        return integrator(toy_sde.reverse_drift(toy_sde.quadratic_drift(self.strength)))

    def network(self):
        return networks.mlp(2, 1, [30, 30, 25, 20, 10], 'ELU')

    @staticmethod
    def correction(net) -> smdp.reverse.Correction:
        """`s_θ(x, t)`, the network applied to `(x, log t)` per entry of `x`."""
        def correction(x: Tensor, t: Tensor) -> Tensor:
            features = math.stack([x / STATE_SCALE, math.expand(math.log(t), x.shape)], channel(vector='x,log_t'))
            return math.native_call(net, features).vector[0]
        return correction

    def windows(self, size: int, count: int, seed: int) -> Tuple[Tensor, Tensor]:
        """`count` random windows of `size` consecutive states and their times, both along (`examples`, `time`)."""
        rng = np.random.default_rng(seed)
        path = rng.integers(0, self.trajectories, count)
        start = rng.integers(0, self.steps + 2 - size, count)
        index = start[:, None] + np.arange(size)
        states = self.paths[path[:, None], index] * self._signs(rng, count)[:, None]
        return math.tensor(states, batch(EXAMPLES, TIME)), math.tensor(index * np.float32(self.dt), batch(EXAMPLES, TIME))

    def states(self, count: int, seed: int) -> Tuple[Tensor, Tensor]:
        """`count` random states `x_t` with `t > 0` and their times, along `examples` (for score matching)."""
        rng = np.random.default_rng(seed)
        path = rng.integers(0, self.trajectories, count)
        index = rng.integers(1, self.steps + 1, count)
        return math.tensor(self.paths[path, index] * self._signs(rng, count), batch(EXAMPLES)), math.tensor(index * np.float32(self.dt), batch(EXAMPLES))

    def _signs(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return rng.choice(np.array([-1, 1], np.float32), count) if self.mirror else np.ones(count, np.float32)

    def loss_function(self, net, method: ToyMethod) -> Callable[..., Tensor]:
        """The method's mean loss over a batch, in units of the correction (squared errors divided by `Δt²`)."""
        if method.loss == 'ism':
            return self._ism_loss(net)
        step = smdp.reverse_step(self.physics(), self.correction(net))

        def loss(window: Tensor, times: Tensor) -> Tensor:
            return math.mean(smdp.multi_step_loss(step, window, times), EXAMPLES) / self.dt ** 2
        return loss

    def _ism_loss(self, net) -> Callable[..., Tensor]:
        """Implicit score matching `E[∂ψ/∂x + ½ψ²]` of `ψ = s_θ/g²`, scaled by `g⁴` to `E[g²·∂s/∂x + ½s²]`.

        Only the derivative along `x` enters (no time derivative). It is a central difference with step
        `ISM_STEP`, because PhiML cannot nest gradients for training on every backend.
        """
        correction = self.correction(net)

        def loss(x: Tensor, t: Tensor) -> Tensor:
            s = correction(x, t)
            divergence = (correction(x + ISM_STEP, t) - correction(x - ISM_STEP, t)) / (2 * ISM_STEP)
            return math.mean(self.diffusion ** 2 * divergence + .5 * s ** 2, EXAMPLES)
        return loss

    def batch(self, method: ToyMethod, size: int, window: int, seed: int) -> Tuple[Tensor, Tensor]:
        """The training batch of one step: windows for the SMDP losses, single states for ISM."""
        return self.states(size, seed) if method.loss == 'ism' else self.windows(window, size, seed)

    def start_states(self) -> Tensor:
        """The evaluation's `x_T`: `test_paths` values evenly spaced in [−0.1, 0.1]."""
        return math.tensor(np.linspace(-.1, .1, self.test_paths, dtype=np.float32), batch(EXAMPLES))

    def reconstruct(self, correction: smdp.reverse.Correction, sampler: str, x_end: Optional[Tensor] = None,
                    trajectory: bool = False, seed: int = 0, trained_with: smdp.TrainingLoss = None,
                    correction_factor: float = None) -> Tensor:
        """Integrates `x_end` (default: `start_states()`) back to `t = 0` with the `'ode'` or `'sde'` sampler.

        The sampler's `C` follows from `trained_with` unless `correction_factor` is given; the SDE noise is seeded.
        """
        if sampler == 'ode':
            predictor = smdp.probability_flow(self.physics(), correction, trained_with, correction_factor=correction_factor)
        else:
            math.seed(seed)
            predictor = smdp.reverse_sde(self.physics(), correction, self.diffusion, trained_with, correction_factor=correction_factor)
        x_end = self.start_states() if x_end is None else x_end
        return smdp.sample(x_end, self.times, predictor, trajectory=trajectory)

    def evaluate(self, correction: smdp.reverse.Correction, trained_with: smdp.TrainingLoss,
                 other_ode_factors: Sequence[float] = ()) -> Dict[str, float]:
        """Posterior Q of the `test_paths` reconstructions: `posterior_q_sde` and `posterior_q_ode` with the factors
        of `trained_with`, and `posterior_q_ode_c<C>` for each of `other_ode_factors`."""
        metrics = {'posterior_q_sde': float(posterior_q(self.reconstruct(correction, 'sde', trained_with=trained_with)))}
        metrics['posterior_q_ode'] = float(posterior_q(self.reconstruct(correction, 'ode', trained_with=trained_with)))
        for factor in other_ode_factors:
            if factor != trained_with.ode_factor:
                metrics[f'posterior_q_ode_c{factor:g}'] = float(posterior_q(self.reconstruct(correction, 'ode', correction_factor=factor)))
        return metrics


def make_step(scene: ToySDEScene, method: ToyMethod, net, optimizer, steps: int, batch_size: int, seed: int) -> Callable[[int], float]:
    """Training step `i`: window size of step `i`, batch `i` drawn from the seed, one compiled update.

    `optimizer` should come from `jit_update.adam(net, method.schedule(steps))`.
    """
    update = jit_update(net, optimizer, scene.loss_function(net, method))
    window = method.curriculum(steps)

    def step(i: int) -> float:
        return float(update(*scene.batch(method, batch_size, window(i), data_seed(seed, 1, i))))
    return step


def evaluator(scene: ToySDEScene, net, method: ToyMethod, other_ode_factors: Sequence[float] = (.5, 1.)) -> Callable[[], Dict[str, float]]:
    """`evaluate()`: posterior Q of the SDE and ODE (the method's `C`, and the others) reconstructions, compiled correction."""
    correction = math.jit_compile(ToySDEScene.correction(net))

    def evaluate() -> Dict[str, float]:
        return scene.evaluate(correction, method.trained_with, other_ode_factors)
    return evaluate
