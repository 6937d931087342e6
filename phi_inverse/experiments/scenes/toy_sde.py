"""SMDP toy SDE scene: recover `x_0 ∈ {−1, 1}` from `x_T` of `dx = −λ·sign(x)x² dt + g dW` (SMDP paper, section 4.1).

Data: `trajectories` Euler–Maruyama paths (λ = 7, g = 0.03, Δt = 0.02, T = 10), starting alternately at +1 and
−1, generated with NumPy from the seed so that every backend trains on the same paths. Reverse physics
`P̃⁻¹(x) = λ·sign(x)x²`. Correction `s_θ(x, t)`: MLP with ELU, hidden 30, 30, 25, 20, 10, input
`(x/0.1, log t)` (the states near `x_T` spread over about ±0.1, and features of that size train much faster).
Evaluation: 1000 paths from `x_T` evenly spaced in [−0.1, 0.1] integrated back to `t = 0` with the ODE and the
SDE sampler; posterior metric `Q = 2·min(ρ₋₁, ρ₁)`.

Methods: `multi-step` (window 10), `1-step`, `ism` (implicit score matching) and `ssm-vr` (sliced score matching
with variance reduction), each evaluated with both samplers in one entry (`posterior_q_ode`, `posterior_q_sde`).

Score matching learns `g²·∇ₓ log p_t`, whose slope `−g²/σ_t²` (branch width `σ_t` of the paths, `σ_t² ≈ g²t`
for small `t`) is steepest near `t = 0`, where uniformly drawn times put only 2 % of the states at `t ≤ 0.2`;
`ScoreMatching.time_sampling` draws half of them log-uniformly instead. Near `T`, where the paths choose their
mode, the score is small (`∝ 1/σ_t`) and its loss terms vanish beside the early ones, so an even part of `s_θ`
there, which tilts the posterior towards one mode, goes uncorrected. Weighting each time by `σ_t²` makes the
terms alike but starves the early, steep scores that bring the paths out to ±1; `ScoreMatching(weighting='std')`,
`λ(t) ∝ σ_t`, sits between the two. Unlike the multi-step and 1-step losses, score matching cannot learn the Euler
error of `P̃⁻¹` into `s_θ`, so its reverse paths end short of ±1, the probability-flow ODE's most.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from phi import math
from phi.math import Tensor, batch, channel

from ... import smdp
from ...physics import TIME, toy_sde
from ...smdp.metrics import posterior_q
from ...support import networks
from ...support.jit import jit_with_networks
from ..methods import Method
from ..smdp_objectives import MultiStep, ScoreMatching
from .base import Scene

EXAMPLES = 'examples'
CENTRAL_STEP = 1e-4
TIME_SAMPLINGS = {'uniform': 0., 'mixed': .5, 'log-uniform': 1.}  # share of log-uniform times
WEIGHTING_POWERS = {'none': 0., 'std': .5, 'variance': 1.}  # λ(t) = σ_t^(2·power)
STATE_SCALE = .1


METHODS = {
    'multi-step': Method(MultiStep(window=10), learning_rate=1e-3, final_learning_rate=1e-5),
    '1-step': Method(MultiStep(window=2), learning_rate=1e-3, final_learning_rate=1e-5),
    'ism': Method(ScoreMatching(weighting='std'), learning_rate=1e-3, final_learning_rate=1e-5),
    'ssm-vr': Method(ScoreMatching(sliced=True, weighting='std'), learning_rate=1e-3, final_learning_rate=1e-5),
}
OTHER_ODE_FACTORS = (.5, 1.)


@dataclass
class ToySDEScene(Scene):
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
        mirror: Train on every drawn window (or state) together with its mirror image `x → −x`, half of each batch.
            The SDE and `p_0` are symmetric, so mirrored paths are equally likely data, and in pairs the batch's
            gradient pulls the even part of `s_θ`, which tilts the posterior towards one mode, to zero at every
            drawn state. The paper trains without this augmentation.
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
    _compiled: dict = field(init=False, repr=False, compare=False, default_factory=dict)

    name = 'toy_sde'
    methods = METHODS

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

    def correction_network(self):
        return networks.mlp(2, 1, [30, 30, 25, 20, 10], 'ELU')

    @staticmethod
    def correction(net) -> smdp.reverse.Correction:
        """`s_θ(x, t)`, the network applied to `(x, log t)` per entry of `x`."""
        def correction(x: Tensor, t: Tensor) -> Tensor:
            features = math.stack([x / STATE_SCALE, math.expand(math.log(t), x.shape)], channel(vector='x,log_t'))
            return math.native_call(net, features).vector[0]
        return correction

    def compiled_correction(self, net) -> smdp.reverse.Correction:
        """`correction(net)` compiled once per network; it always sees the network's current parameters."""
        if net not in self._compiled:
            self._compiled[net] = jit_with_networks(self.correction(net), net)
        return self._compiled[net]

    def windows(self, size: int, count: int, seed: int) -> Tuple[Tensor, Tensor]:
        """`count` random windows of `size` consecutive states and their times, both along (`examples`, `time`)."""
        rng = np.random.default_rng(seed)
        drawn = self._drawn(count)
        path = rng.integers(0, self.trajectories, drawn)
        start = rng.integers(0, self.steps + 2 - size, drawn)
        index = start[:, None] + np.arange(size)
        states, index = self._with_mirror_images(self.paths[path[:, None], index], index, count)
        return math.tensor(states, batch(EXAMPLES, TIME)), math.tensor(index * np.float32(self.dt), batch(EXAMPLES, TIME))

    def states(self, count: int, seed: int, time_sampling: str = 'uniform') -> Tuple[Tensor, Tensor]:
        """`count` random states `x_t` with `t > 0` and their times, along `examples` (for score matching).

        Args:
            time_sampling: `'uniform'` over the time steps `1 … M`, `'log-uniform'` (density `∝ 1/t` over
                `[Δt, T]`, rounded to time steps), which draws as many states from `t ∈ [Δt, 10Δt]` as from
                `[0.1T, T]`, or `'mixed'`: half of the states each way.
        """
        if time_sampling not in TIME_SAMPLINGS:
            raise ValueError(f"time_sampling must be one of {TIME_SAMPLINGS} but got '{time_sampling}'.")
        rng = np.random.default_rng(seed)
        drawn = self._drawn(count)
        path = rng.integers(0, self.trajectories, drawn)
        uniform = rng.integers(1, self.steps + 1, drawn)
        logarithmic = np.clip(np.round(np.exp(rng.uniform(np.log(.5), np.log(self.steps + .5), drawn))), 1, self.steps).astype(int)
        index = np.where(np.arange(drawn) < TIME_SAMPLINGS[time_sampling] * drawn, logarithmic, uniform)
        states, index = self._with_mirror_images(self.paths[path, index], index, count)
        return math.tensor(states, batch(EXAMPLES)), math.tensor(index * np.float32(self.dt), batch(EXAMPLES))

    def _drawn(self, count: int) -> int:
        return (count + 1) // 2 if self.mirror else count

    def _with_mirror_images(self, states: np.ndarray, index: np.ndarray, count: int) -> Tuple[np.ndarray, np.ndarray]:
        """With `mirror`, the drawn `states` followed by their mirror images, `count` in all, and their time indices."""
        if not self.mirror:
            return states, index
        return np.concatenate([states, -states])[:count], np.concatenate([index, index])[:count]

    def multi_step_loss(self, net, reverse_physics: bool = True) -> Callable[..., Tensor]:
        """The mean multi-step loss over a batch of windows, in units of the correction (divided by `Δt²`)."""
        step = smdp.reverse_step(self.physics() if reverse_physics else smdp.no_physics, self.correction(net))

        def loss(window: Tensor, times: Tensor) -> Tensor:
            return math.mean(smdp.multi_step_loss(step, window, times), EXAMPLES) / self.dt ** 2
        return loss

    def score_matching_loss(self, net, sliced: bool = False, weighting: str = 'none') -> Callable[..., Tensor]:
        """The mean implicit score-matching loss `E[λ(t)·(g²·∂s/∂x + ½s²)]` of `s = s_θ(·, t)` (minimised by
        `s_θ = g²·∇ₓ log p_t` for every positive weighting `λ`), or with `sliced` the SSM-VR loss
        `E[λ(t)·(g²·v²·∂s/∂x + ½s²)]` of projections `v` (`phi_inverse.smdp.score_matching`). Only the derivative
        along `x` enters, none along `t`.

        Args:
            weighting: `'none'` (`λ = 1`), `'variance'`: `λ(t) ∝ σ_t²`, the variance of the paths about their mode
                at `t` (Song et al. 2021 weight by the perturbation variance), or `'std'`: `λ(t) ∝ σ_t`. The loss terms then scale alike at all
                times, instead of the steep scores near `t = 0` drowning the flat ones near `T`, where the paths
                choose their mode.

        Returns:
            `loss(x, t)`, or `loss(x, t, v)` with `sliced`.
        """
        correction = self.correction(net)
        g2 = self.diffusion ** 2
        weight = self._time_weight(weighting)

        def implicit(x: Tensor, t: Tensor) -> Tensor:
            return math.mean(weight(t) * smdp.implicit_score_matching(lambda x_: correction(x_, t), x, g2, step=CENTRAL_STEP), EXAMPLES)

        def sliced_loss(x: Tensor, t: Tensor, v: Tensor) -> Tensor:
            return math.mean(weight(t) * smdp.sliced_score_matching(lambda x_: correction(x_, t), x, v, g2, step=CENTRAL_STEP), EXAMPLES)
        return sliced_loss if sliced else implicit

    def _time_weight(self, weighting: str) -> Callable[[Tensor], Tensor]:
        if weighting not in WEIGHTING_POWERS:
            raise ValueError(f"weighting must be one of {tuple(WEIGHTING_POWERS)} but got '{weighting}'.")
        if weighting == 'none':
            return lambda t: 1.
        weight = np.var(np.abs(self.paths), axis=0) ** WEIGHTING_POWERS[weighting]
        table = math.tensor((weight / weight[1:].mean()).astype(np.float32), batch(TIME))
        return lambda t: table[{TIME: math.to_int32(math.round(t / self.dt))}]

    def test_set(self, size: int, seed: int) -> Tensor:
        """The evaluation's `x_T`: `size` values evenly spaced in [−0.1, 0.1] (the same for every seed)."""
        return math.tensor(np.linspace(-.1, .1, size, dtype=np.float32), batch(EXAMPLES))

    def reconstruct(self, correction: smdp.reverse.Correction, sampler: str, trained_with: smdp.TrainingLoss,
                    x_end: Optional[Tensor] = None, trajectory: bool = False, seed: int = 0,
                    correction_factor: Optional[float] = None) -> Tensor:
        """Integrates `x_end` (default: the test set) back to `t = 0` with the `'ode'` or `'sde'` sampler.

        The correction factor follows from the loss the correction was `trained_with`, unless `correction_factor`
        is given; the SDE noise is seeded.
        """
        if sampler == 'ode':
            predictor = smdp.probability_flow(self.physics(), correction, trained_with, correction_factor=correction_factor)
        else:
            math.seed(seed)
            predictor = smdp.reverse_sde(self.physics(), correction, self.diffusion, trained_with, correction_factor=correction_factor)
        x_end = self.test_set(self.test_paths, self.seed) if x_end is None else x_end
        return smdp.sample(x_end, self.times, predictor, trajectory=trajectory)

    def evaluate(self, net, method: Method, test_set: Tensor, chunk: int) -> Dict[str, Dict[str, float]]:
        """Posterior Q of the reconstructions of `test_set`: `posterior_q_sde`, `posterior_q_ode` with the method's
        `C` (from the loss it was trained with), and `posterior_q_ode_c<C>` for each other `C` of `OTHER_ODE_FACTORS`."""
        correction = self.compiled_correction(net)
        loss = method.objective.trained_with
        metrics = {'posterior_q_sde': self._q(correction, 'sde', test_set, loss),
                   'posterior_q_ode': self._q(correction, 'ode', test_set, loss)}
        for factor in OTHER_ODE_FACTORS:
            if factor != loss.ode_factor:
                metrics[f'posterior_q_ode_c{factor:g}'] = self._q(correction, 'ode', test_set, loss, factor)
        return {'': metrics}

    def _q(self, correction, sampler: str, x_end: Tensor, loss: smdp.TrainingLoss, factor: Optional[float] = None) -> float:
        return float(posterior_q(self.reconstruct(correction, sampler, loss, x_end, correction_factor=factor)))
