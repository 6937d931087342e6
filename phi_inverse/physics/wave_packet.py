"""A wave packet to localise in a noisy time series (SIP paper, appendix C.1).

`y(t) = A sin(f (t − t₀)) exp(−½ ((t − t₀)/σ)²)` sampled at `t = 0, 1, …, n − 1`. The loss `½‖y(t₀) − y*‖²` has a
local minimum at every whole period `2π/f` of phase shift, and is flat far from the packet, so an iterative
solver started away from `t₀` stalls in a wrong period or fits the noise.

References:
    Holl, Koltun, Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022, appendix C.1, Fig. 16.
"""
import numpy as np
from phi import math
from phi.math import Tensor, spatial

AMPLITUDE, FREQUENCY, WIDTH, SAMPLES = 1., .7, 20., 256


def forward(t0: Tensor, amplitude: float = AMPLITUDE, frequency: float = FREQUENCY, width: float = WIDTH,
            samples: int = SAMPLES) -> Tensor:
    """The packet centred at `t0` (one number per example) as a Tensor with spatial dimension `t`."""
    shift = times(samples) - t0
    return amplitude * math.sin(frequency * shift) * math.exp(-.5 * (shift / width) ** 2)


def times(samples: int = SAMPLES) -> Tensor:
    """The sample times `t = 0, 1, …, samples − 1` along spatial dimension `t`."""
    return math.tensor(np.arange(samples, dtype=np.float32), spatial('t'))


def localised(t0: Tensor, t0_true: Tensor, frequency: float = FREQUENCY) -> Tensor:
    """Whether `t0` lies within half a period `π/f` of the true position, i.e. in the right wave crest (0 or 1)."""
    return math.to_float(abs(t0 - t0_true) < np.pi / frequency)
