"""Stochastic differential equations `dx = f(x) dt + g dW` with additive noise, simulated with Euler–Maruyama.

One step from `t_m` to `t_{m+1} = t_m + Δt_m` applies the deterministic part over `Δt_m`, then the noise:

    x_{m+1} = D_{Δt_m}(x_m) + g·√Δt_m·z_m,    z_m ~ N(0, I),

where `D_Δt` is the explicit Euler step `x + Δt·f(x)` of a drift (`euler_step`) or, where the deterministic
part can be solved exactly, its exact solution (e.g. Fourier diffusion for the stochastic heat equation).
States are Tensors or grids with batch dimensions; trajectories stack them along the batch dimension `time`.

References:
    Kloeden, Platen, "Numerical Solution of Stochastic Differential Equations", 1992 (Euler–Maruyama);
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023, section 3.
"""
from typing import Callable, Iterable, List, TypeVar, Union

from phi import math
from phi.field import Field
from phi.math import Tensor

from . import TIME

X = TypeVar('X', Tensor, Field)
Amount = Union[float, Tensor]
Drift = Callable[[X], X]
DeterministicStep = Callable[[X, Amount], X]


def euler_step(drift: Drift) -> DeterministicStep:
    """`D_Δt(x) = x + Δt·f(x)`, the explicit Euler step of the drift `f`."""
    def step(x: X, dt: Amount) -> X:
        return x + dt * drift(x)
    return step


def reverse_drift(drift: Drift) -> Drift:
    """`−f`: the drift that runs the deterministic part of `dx = f(x) dt + g dW` backwards in time."""
    def reverse(x: X) -> X:
        return -drift(x)
    return reverse


def increments(times: Tensor) -> List[Tensor]:
    """The time steps `Δt_m = t_{m+1} − t_m` of increasing time points along `time` (possibly one grid per example)."""
    return [times[{TIME: m}] - times[{TIME: m - 1}] for m in range(1, times.shape.get_size(TIME))]


def euler_maruyama(step: DeterministicStep, x0: X, diffusion: Amount, time_steps: Iterable[Amount]) -> X:
    """The Euler–Maruyama path `x_{m+1} = D_{Δt_m}(x_m) + g·√Δt_m·z_m` from `x0`, one step per entry of `time_steps`.

    The noise `z_m ~ N(0, I)` comes from the current backend's generator (`math.seed` makes paths reproducible).

    Args:
        step: The deterministic part over one step, `D(x, Δt)`: `euler_step(drift)` or an exact solution.
        x0: Initial states, a Tensor or a grid; every entry (cell) of every example is one path.
        diffusion: The constant `g`.
        time_steps: `Δt_0, Δt_1, …` as numbers (e.g. `[dt] * steps`) or Tensors (e.g. `increments(times)`).

    Returns:
        The states `x_0 … x_M` stacked along the batch dimension `time`, of the type of `x0`.
    """
    states = [x0]
    for dt in time_steps:
        x = step(states[-1], dt)
        noise = math.random_normal(x.values.shape if isinstance(x, Field) else x.shape)
        states.append(x + diffusion * _square_root(dt) * noise)
    return _stack_in_time(states)


def _stack_in_time(states: List[X]) -> X:
    """Stacks states along `time`; grids by their values, wrapped in the first grid once (stacking the grids
    themselves would check and stack their geometries at every step)."""
    if isinstance(states[0], Field):
        return states[0].with_values(math.stack([s.values for s in states], math.batch(TIME)))
    return math.stack(states, math.batch(TIME))


def _square_root(dt: Amount) -> Amount:
    return math.sqrt(dt) if isinstance(dt, Tensor) else dt ** .5
