"""Trajectories of forced 2-D turbulence (`phi_inverse.physics.vorticity`), simulated once and cached on disk.

Training, validation and test trajectories come from different seed streams and are cached separately, so a run
with another test size reuses the training data. Every trajectory starts from Li et al.'s Gaussian measure and is
recorded every `record_interval` from 0 to `end_time` (SMDP paper, section 4.4: 1000 trajectories, 64×64,
`t = 0 … 10`).
"""
from typing import Callable

import numpy as np
from phi import math
from phi.math import batch

from ...physics import TIME, vorticity
from ..data_cache import cached
from .base import data_seed

EXAMPLES = 'examples'
CHUNK = 100
TRAIN_STREAM, TEST_STREAM, VALIDATION_STREAM = 0, 2, 3
STREAMS = {'train': TRAIN_STREAM, 'validation': VALIDATION_STREAM, 'test': TEST_STREAM}
EVALUATION_SPLITS = ('test', 'validation')


def simulate_trajectories(count: int, resolution: int, seed: int, end_time: float, record_interval: float,
                          viscosity: float, cfl: float = vorticity.CFL) -> np.ndarray:
    """`count` trajectories `ω(0), ω(Δt), …, ω(end_time)` as float32 `(count, time, x, y)`, on NumPy."""
    parts = []
    with math.NUMPY:
        math.seed(seed)
        for start in range(0, count, CHUNK):
            omega0 = vorticity.gaussian_random_field(batch(**{EXAMPLES: min(CHUNK, count - start)}), resolution)
            trajectory = vorticity.simulate(omega0, end_time, record_interval, viscosity, vorticity.li_forcing(omega0), cfl)
            parts.append(trajectory.values.numpy(f'{EXAMPLES},{TIME},x,y').astype(np.float32))
    return np.concatenate(parts)


def trajectories(split: str, count: int, resolution: int, seed: int, end_time: float = 10., record_interval: float = 1.,
                 viscosity: float = vorticity.VISCOSITY, say: Callable[[str], None] = print) -> np.ndarray:
    """The cached `'train'`, `'validation'` or `'test'` trajectories of a run with `seed` (see `simulate_trajectories`)."""
    if split not in STREAMS:
        raise ValueError(f"split must be one of {tuple(STREAMS)}, not '{split}'")
    stream = STREAMS[split]
    settings = {'split': split, 'count': count, 'resolution': resolution, 'seed': seed, 'end_time': end_time,
                'record_interval': record_interval, 'viscosity': viscosity, 'cfl': vorticity.CFL,
                'forcing': vorticity.FORCING_AMPLITUDE, 'scheme': 'heun-advection/crank-nicolson-viscosity'}
    data = cached(f'turbulence-{split}', settings, lambda: {'omega': simulate_trajectories(
        count, resolution, data_seed(seed, stream), end_time, record_interval, viscosity)}, say=say)
    return data['omega']
