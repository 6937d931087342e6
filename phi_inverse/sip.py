"""The SIP training hook: turns any forward simulation and inverse update into a network loss.

A SIP step for a prediction `x̂ = NN(y* | θ)`:

1. `x = sg(x̂)` and `y = P(x)`, simulated without a gradient graph;
2. `Δx = U(x, y*)` from an inverse-physics solver, `x̃ = x + Δx`;
3. `L̃ = ½‖x̂ − sg(x̃)‖²`, whose gradient `∂L̃/∂x̂ = −Δx` is the inverse-physics update.

Any optimizer then updates θ with that gradient. The baseline `physics_loss()` instead backpropagates
`L = ½‖P(x̂) − y*‖²` through the simulation.

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, section 3, equation (3).
"""
from typing import Callable, Optional, Protocol, Tuple, TypeVar

from phi import math
from phi.field import Field
from phi.math import Tensor, batch

from .support.checks import check_finite, check_like
from .metrics import half_squared_norm

X = TypeVar('X', Field, Tensor)
Y = TypeVar('Y', Field, Tensor)


class InverseUpdate(Protocol):
    """An inverse-physics update `Δx = U(x, y*)`; `y = P(x)` may be passed in when already simulated.

    The result has the structure of `x`. Extra settings are bound when the update is built (factory style),
    and `y_target` is keyword-only so a forgotten argument fails loudly.
    """

    def __call__(self, x: X, *, y_target: Y, y: Optional[Y] = None) -> X:
        ...


def sip_loss(x_pred: X, y_target: Y, forward: Callable[[X], Y], update: InverseUpdate) -> Tuple[Tensor, Tensor]:
    """Scale-invariant physics loss `L̃ = ½‖x̂ − sg(x̂ + Δx)‖²` per example.

    The physics and the update run on stopped values, so no gradient graph is built through them and
    `∂L̃/∂x̂ = −Δx` exactly.

    Args:
        x_pred: Network prediction `x̂` (Field or Tensor with batch dimensions).
        y_target: Target observation `y*`, like `forward(x_pred)`.
        forward: The simulation `P`.
        update: Inverse update `U(x, *, y_target, y)`, e.g. `poisson.laplace_update()`.

    Returns:
        `(L̃, y_loss)`, both per example: the SIP loss to minimise and `½‖P(x̂) − y*‖²` for logging.
    """
    check_finite(y_target, 'y_target')
    x = math.stop_gradient(x_pred)
    y = forward(x)
    check_like(y, y_target, 'the simulated observation P(x_pred)', 'y_target')
    dx = update(x, y_target=y_target, y=y)
    check_like(dx, x, 'the inverse update Δx', 'x_pred')
    x_tilde = math.stop_gradient(x + dx)
    return half_squared_norm(x_pred - x_tilde), half_squared_norm(y - y_target)


def physics_loss(x_pred: X, y_target: Y, forward: Callable[[X], Y]) -> Tuple[Tensor, Tensor]:
    """The baseline loss `L = ½‖P(x̂) − y*‖²` per example, differentiated through the simulation.

    Returns:
        `(L, L)`, matching the `(loss, y_loss)` output of `sip_loss()`.
    """
    check_finite(y_target, 'y_target')
    y = forward(x_pred)
    check_like(y, y_target, 'the simulated observation P(x_pred)', 'y_target')
    loss = half_squared_norm(y - y_target)
    return loss, loss


def batch_mean(loss: Tensor) -> Tensor:
    """Mean over the batch dimensions, the quantity an optimizer minimises."""
    return math.mean(loss, batch)
