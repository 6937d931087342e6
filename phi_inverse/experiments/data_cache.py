"""Simulated data sets cached on disk, keyed by the settings that produced them.

A scene whose data takes minutes to simulate (buoyancy flow, turbulence) generates it once through `cached`;
a second run with the same settings loads the file instead. The cache folder is `$PHI_INVERSE_CACHE`, by default
`~/.cache/phi_inverse`.
"""
import hashlib
import json
import os
from typing import Callable, Dict, Optional

import numpy as np

CACHE_VARIABLE = 'PHI_INVERSE_CACHE'
VERSION_KEY = 'cache_format'
FORMAT = 1


def cache_folder() -> str:
    """The folder that holds cached data sets."""
    return os.environ.get(CACHE_VARIABLE) or os.path.join(os.path.expanduser('~'), '.cache', 'phi_inverse')


def cache_key(name: str, settings: dict) -> str:
    """The file name of the data set `name` produced with `settings` (JSON-serialisable values)."""
    text = json.dumps({VERSION_KEY: FORMAT, **settings}, sort_keys=True, default=str)
    return f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"


def cached(name: str, settings: dict, make: Callable[[], Dict[str, np.ndarray]], folder: Optional[str] = None,
           say: Callable[[str], None] = print) -> Dict[str, np.ndarray]:
    """The arrays `make()` returns for `settings`, loaded from the cache when an earlier run stored them.

    Args:
        name: Name of the data set, the start of its file name.
        settings: Everything the data depends on (resolution, counts, seed, physical constants).
        make: Generates the data as named NumPy arrays.
        folder: Cache folder; default `cache_folder()`.
        say: Receives one line saying whether the data was loaded or generated, and where it lies.
    """
    folder = folder or cache_folder()
    path = os.path.join(folder, cache_key(name, settings))
    if os.path.exists(path):
        with np.load(path, allow_pickle=False) as stored:
            say(f"{name}: loaded cached data {path}")
            return {key: stored[key] for key in stored.files}
    arrays = make()
    if not isinstance(arrays, dict) or not all(isinstance(value, np.ndarray) for value in arrays.values()):
        raise TypeError(f"make() must return a dict of NumPy arrays, got {type(arrays).__name__}")
    os.makedirs(folder, exist_ok=True)
    partial = path + '.partial.npz'
    np.savez(partial, **arrays)
    os.replace(partial, path)
    with open(path[:-len('.npz')] + '.json', 'w') as file:
        json.dump(settings, file, indent=1, sort_keys=True, default=str)
    say(f"{name}: generated data, cached in {path}")
    return arrays
