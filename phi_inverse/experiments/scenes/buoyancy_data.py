"""Data of the buoyancy scene: random obstacles and simulated trajectories, batched and cached on disk.

Obstacles follow the SMDP authors' generator (1–2 boxes and 1–2 spheres per simulation): a box corner
`x ∈ U{1..100}, y ∈ U{50..100}` extended in one of four directions by a length `U{10..100}` and a thickness
`U{5..12}`; a sphere centre `x ∈ U{1..100}, y ∈ U{50..100}` with radius `U{5..12}`. Boxes that would touch the
inflow region are drawn again. A simulation runs from `t = 0` to `t = 0.65` (65 steps); the frames from
`t = 0.35` on are kept. Simulations with non-finite values or speeds above `MAX_SPEED` (a failed pressure solve,
which the tolerant solve of the compiled step lets through) are drawn again.
"""
from typing import Dict, Tuple

import numpy as np
from phi import math
from phi.field import CenteredGrid, StaggeredGrid
from phi.math import batch, channel, dual, instance, spatial
from tqdm.auto import tqdm

from ...physics import TIME, buoyancy
from ..data_cache import cached

EXAMPLES = 'examples'
SLOTS = 2
UNUSED = -50.
INFLOW_CLEARANCE = 20.
OBSTACLE_KEYS = ('box_lower', 'box_upper', 'sphere_center', 'sphere_radius')
END_STEP = 65
START_STEP = 35
MAX_SPEED = 10.
"""Face speeds (domain units per step) above this mean that a pressure solve failed; such simulations are drawn
again (plumes here reach about 2)."""


def random_obstacles(rng: np.random.Generator, count: int) -> Dict[str, np.ndarray]:
    """Obstacle parameters of `count` simulations; unused slots are empty boxes and spheres far outside."""
    lower = np.full((count, SLOTS, 2), UNUSED, np.float32)
    upper = np.full((count, SLOTS, 2), UNUSED, np.float32)
    center = np.full((count, SLOTS, 2), UNUSED, np.float32)
    radius = np.zeros((count, SLOTS), np.float32)
    for n in range(count):
        for k in range(rng.integers(1, SLOTS + 1)):
            lower[n, k], upper[n, k] = _random_box(rng)
        for k in range(rng.integers(1, SLOTS + 1)):
            center[n, k] = rng.integers(1, 101), rng.integers(50, 101)
            radius[n, k] = rng.integers(5, 13)
    return dict(box_lower=lower, box_upper=upper, sphere_center=center, sphere_radius=radius)


def _random_box(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    while True:
        corner = np.array([rng.integers(1, 101), rng.integers(50, 101)], np.float32)
        length, thickness = rng.integers(10, 101), rng.integers(5, 13)
        direction = rng.integers(4)
        extent = np.array([length, thickness] if direction < 2 else [thickness, length], np.float32)
        sign = 1 if direction % 2 == 0 else -1
        lower = np.minimum(corner, corner + sign * extent).clip(0, 100)
        upper = np.maximum(corner, corner + sign * extent).clip(0, 100)
        inflow = np.array(buoyancy.INFLOW_CENTER)
        if np.any(upper < inflow - INFLOW_CLEARANCE) or np.any(lower > inflow + INFLOW_CLEARANCE):
            return lower, upper


def obstacle_tensors(arrays: Dict[str, np.ndarray], index=slice(None)) -> Tuple[math.Tensor, ...]:
    """The obstacle parameters of the simulations `index` as Tensors along `examples`."""
    vector = channel(vector='x,y')
    lower, upper, center, radius = (arrays[key][index] for key in OBSTACLE_KEYS)
    return (math.tensor(lower, batch(EXAMPLES), instance(buoyancy.OBSTACLE), vector),
            math.tensor(upper, batch(EXAMPLES), instance(buoyancy.OBSTACLE), vector),
            math.tensor(center, batch(EXAMPLES), instance(buoyancy.OBSTACLE), vector),
            math.tensor(radius, batch(EXAMPLES), instance(buoyancy.OBSTACLE)))


def state_arrays(state: buoyancy.FlowState) -> Dict[str, np.ndarray]:
    """Marker and face velocities of a state along `examples` as NumPy arrays `(examples, x, y)`."""
    order = f'{EXAMPLES},x,y'
    return {'smoke': state.smoke.values.numpy(order),
            'velocity_x': state.velocity.values[{'~vector': 'x'}].numpy(order),
            'velocity_y': state.velocity.values[{'~vector': 'y'}].numpy(order)}


def flow_state(arrays: Dict[str, np.ndarray], resolution: int, time_dim: bool = True) -> buoyancy.FlowState:
    """The inverse of `state_arrays`: a FlowState along `examples` (and `time`) from arrays."""
    dims = (batch(EXAMPLES), batch(TIME)) if time_dim else (batch(EXAMPLES),)
    smoke = CenteredGrid(math.tensor(arrays['smoke'], *dims, spatial('x,y')), buoyancy.SMOKE_BOUNDARY, buoyancy.DOMAIN,
                         x=resolution, y=resolution)
    components = [math.tensor(arrays[f'velocity_{d}'], *dims, spatial('x,y')) for d in 'xy']
    velocity = StaggeredGrid(math.stack(components, dual(vector='x,y')), buoyancy.VELOCITY_BOUNDARY, buoyancy.DOMAIN,
                             x=resolution, y=resolution)
    return buoyancy.FlowState(smoke, velocity)


def simulate_batch(obstacles: Dict[str, np.ndarray], resolution: int, start: int, end: int, progress=None) -> Dict[str, np.ndarray]:
    """Simulations from rest with the given obstacles; the frames `start … end` as arrays (`state_arrays`)."""
    count = len(obstacles['sphere_radius'])
    geometry = obstacle_tensors(obstacles)
    state = buoyancy.empty_state(resolution, batch(**{EXAMPLES: count}))
    frames = []
    for i in range(end):
        if i >= start:
            frames.append(state)
        state = buoyancy.compiled_step(state, geometry, math.tensor(i * buoyancy.TIME_STEP))
        if progress is not None:
            progress.update(count)
    frames.append(state)
    arrays = [state_arrays(frame) for frame in frames]
    return {key: np.stack([a[key] for a in arrays], axis=1) for key in arrays[0]}


def generate(count: int, resolution: int, seed: int, chunk: int, description: str) -> Dict[str, np.ndarray]:
    """`count` simulations in chunks, with their obstacles; failed ones drawn again."""
    rng = np.random.default_rng(seed)
    parts = []
    with tqdm(total=count * END_STEP, desc=description, unit='sim-step', leave=False) as progress:
        while sum(len(p['sphere_radius']) for p in parts) < count:
            todo = min(chunk, count - sum(len(p['sphere_radius']) for p in parts))
            obstacles = random_obstacles(rng, todo)
            frames = simulate_batch(obstacles, resolution, START_STEP, END_STEP, progress)
            speed = np.maximum(np.abs(frames['velocity_x']).max(axis=(1, 2, 3)), np.abs(frames['velocity_y']).max(axis=(1, 2, 3)))
            good = np.all(np.isfinite(frames['smoke']), axis=(1, 2, 3)) & (speed < MAX_SPEED)
            parts.append({k: v[good] for k, v in {**obstacles, **frames}.items()})
    return {key: np.concatenate([p[key] for p in parts])[:count] for key in parts[0]}


def dataset(name: str, count: int, resolution: int, seed: int, chunk: int = 16) -> Dict[str, np.ndarray]:
    """The cached data set `name` (`'train'` or `'test'`) of `count` simulations (see `generate`)."""
    settings = dict(part=name, count=count, resolution=resolution, seed=seed, start=START_STEP, end=END_STEP,
                    inflow=buoyancy.INFLOW_RATE, buoyancy=buoyancy.BUOYANCY, max_speed=MAX_SPEED, version=2)
    return cached('buoyancy', settings, lambda: generate(count, resolution, seed, chunk, f'buoyancy {name} data'))
