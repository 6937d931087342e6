"""The synthetic two-dimensional process of the SIP paper's characterisation experiment.

`P(x) = (sin(x̂₁ / ξ), ξ · x̂₂)` with `x̂ = γ R_φ x`. The rotation `R_φ` couples the two parameters (`φ = 0`
decouples them); `ξ` sets the conditioning: the gradient scales with `1/ξ` along `x̂₁` and with `ξ` along
`x̂₂`, and every solution manifold is stretched by `ξ` along one axis and compressed along the other.

This is the process of the authors' published code. The paper writes `sin(x̂₁)/ξ`, which for `ξ > 1` has no
exact solution for most targets `y* ∈ [−1, 1]²` (it needs `|ξ y₁*| ≤ 1`), so the metric "distance to the
nearest exact solution" would be undefined; with `sin(x̂₁/ξ)` every target is reachable and the solutions
spread linearly with `ξ`, as appendix B.1 describes.

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, section 3.4, appendix B.1.
"""
import numpy as np
from phi import math
from phi.math import Tensor, channel

VECTOR = channel(vector=2)


def forward(x: Tensor, xi: float, phi: float, gamma: float = 10.) -> Tensor:
    """`P(x) = (sin(x̂₁/ξ), ξ x̂₂)` with `x̂ = γ R_φ x`.

    Args:
        x: Parameters with a channel dimension `vector` of size 2 (and any batch dimensions).
        xi: Conditioning `ξ ≥ 1`.
        phi: Coupling angle `φ` in radians.
        gamma: Global scale `γ`.
    """
    z = _scaled(x, xi, phi, gamma)
    return math.where(_FIRST, math.sin(z), z)


def nearest_solution(x: Tensor, y_target: Tensor, xi: float, phi: float, gamma: float = 10.) -> Tensor:
    """The exact solution of `P(x*) = y*` closest to `x` (Euclidean distance in `x`).

    The solutions share `x̂₂ = y₂*/ξ` and have `x̂₁/ξ ∈ {asin y₁* + 2πn, π − asin y₁* + 2πn}`, so the closest one
    minimises the distance along `x̂₁`.
    """
    z1 = _scaled(x, xi, phi, gamma).vector[0]
    principal = math.arcsin(y_target.vector[0])
    z1_star = math.where(abs(_wrap(z1 - principal)) <= abs(_wrap(z1 - np.pi + principal)),
                         z1 - _wrap(z1 - principal), z1 - _wrap(z1 - np.pi + principal))
    z_star = math.where(_FIRST, z1_star, y_target)
    return _linear(z_star, np.linalg.inv(_matrix(xi, phi, gamma)))


def solution_distance(x: Tensor, y_target: Tensor, xi: float, phi: float, gamma: float = 10.) -> Tensor:
    """`x_dist = ‖x − x*‖₂ / ξ` per example, `x*` the nearest exact solution (paper Fig. 5d/e)."""
    return math.vec_length(x - nearest_solution(x, y_target, xi, phi, gamma), 'vector') / xi


_FIRST = math.tensor([True, False], VECTOR)


def _matrix(xi: float, phi: float, gamma: float) -> np.ndarray:
    """`z = A x` with `z = (x̂₁/ξ, ξ x̂₂)`, i.e. `A = diag(1/ξ, ξ) γ R_φ`."""
    rotation = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
    return np.diag([1 / xi, xi]) @ (gamma * rotation)


def _scaled(x: Tensor, xi: float, phi: float, gamma: float) -> Tensor:
    return _linear(x, _matrix(xi, phi, gamma))


def _linear(x: Tensor, matrix: np.ndarray) -> Tensor:
    """`Mx` along `vector`, as a sum of scaled columns (cheaper than a stack for two components)."""
    return x.vector[0] * math.tensor(matrix[:, 0], VECTOR) + x.vector[1] * math.tensor(matrix[:, 1], VECTOR)


def _wrap(angle: Tensor) -> Tensor:
    """`angle` shifted by a multiple of 2π into [−π, π)."""
    return angle - 2 * np.pi * math.round(angle / (2 * np.pi))
