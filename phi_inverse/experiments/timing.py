"""Wall-clock timing of backend computations, for benchmarks and comparisons.

Timings are medians over repeated calls after warm-up (JIT tracing, caches). Results are forced to be
computed (reduced to a host float) before the clock stops, so asynchronous GPU and JAX dispatch is
included. Functions compared against each other are called alternately, so drifts in machine load
affect all of them alike.
"""
import time
from typing import Callable, Dict

import numpy as np
from phi import math
from phi.field import Field


def wait_for(result):
    """Blocks until `result` (Tensor, Field, number or nested tuple/list/dict of them) is computed."""
    if isinstance(result, (tuple, list)):
        for item in result:
            wait_for(item)
    elif isinstance(result, dict):
        wait_for(list(result.values()))
    elif isinstance(result, Field):
        wait_for(result.values)
    elif isinstance(result, math.Tensor):
        math.sum(math.stop_gradient(result), dim=result.shape).numpy()


def interleaved_medians(functions: Dict[str, Callable[[], object]], repeat: int = 20, warmup: int = 3) -> Dict[str, float]:
    """Median seconds per call of each function, calling them in turn `warmup + repeat` times."""
    samples = {name: [] for name in functions}
    for iteration in range(warmup + repeat):
        for name, function in functions.items():
            start = time.perf_counter()
            wait_for(function())
            if iteration >= warmup:
                samples[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in samples.items()}


def median_seconds(function: Callable[[], object], repeat: int = 20, warmup: int = 3) -> float:
    """Median seconds per call of `function` after `warmup` calls."""
    return interleaved_medians({'f': function}, repeat, warmup)['f']
