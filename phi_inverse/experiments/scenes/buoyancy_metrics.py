"""Evaluation helpers of the buoyancy scene: SSIM of marker fields and the L-BFGS baseline.

SSIM stands in for the paper's LPIPS, which needs pretrained AlexNet weights.

References:
    Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to structural similarity",
    IEEE TIP 2004 (SSIM);
    Holzschuh, Vegetti, Thuerey, "Solving Inverse Physics Problems with Score Matching", NeurIPS 2023, section 4.3
    (L-BFGS through the differentiable simulation).
"""
from typing import Sequence

import numpy as np
from phi import math
from phi.math import Tensor

from ...physics import TIME, buoyancy

WINDOW = 7
K1, K2 = .01, .03


def ssim(x: np.ndarray, y: np.ndarray, data_range: float = None) -> np.ndarray:
    """Mean SSIM per image of `(n, height, width)` arrays, with a uniform `7 × 7` window (valid positions only).

    `SSIM = (2μₓμᵧ + c₁)(2σₓᵧ + c₂) / ((μₓ² + μᵧ² + c₁)(σₓ² + σᵧ² + c₂))`, `c_i = (K_i·L)²`, `L` the data range of
    `y` over all images unless given.
    """
    data_range = float(np.max(y) - np.min(y)) if data_range is None else data_range
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2

    def mean(a):
        windows = np.lib.stride_tricks.sliding_window_view(a, (WINDOW, WINDOW), axis=(1, 2))
        return windows.mean(axis=(-2, -1))
    mx, my = mean(x), mean(y)
    vx, vy, cov = mean(x * x) - mx ** 2, mean(y * y) - my ** 2, mean(x * y) - mx * my
    index = (2 * mx * my + c1) * (2 * cov + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return index.mean(axis=(1, 2))


def lbfgs_reconstruction(initial: buoyancy.FlowState, observation: buoyancy.FlowState, parameters: Sequence[Tensor],
                         times: Tensor, iterations: int) -> buoyancy.FlowState:
    """`argmin_x ‖P_{0.35→0.65}(x) − x(0.65)‖²` (marker and velocity) by L-BFGS through the differentiable
    simulation, started from `initial`."""
    geometry = buoyancy.obstacles(*parameters)
    steps = times.shape.get_size(TIME) - 1
    start_time = float(times[{TIME: 0}])

    def loss(x: buoyancy.FlowState) -> Tensor:
        buoyancy.forget_projection_traces()
        end = buoyancy.simulate(x, geometry, steps, start_time, solve=buoyancy.REVERSE_SOLVE)[-1]
        return math.sum(math.sum((end.smoke.values - observation.smoke.values) ** 2, 'x,y')) + \
            math.sum(math.sum((end.velocity.values - observation.velocity.values) ** 2, end.velocity.shape.non_batch))
    solve = math.Solve('L-BFGS-B', 0, 1e-8, max_iterations=iterations, x0=initial, suppress=(math.NotConverged, math.Diverged))
    return math.minimize(loss, solve)
