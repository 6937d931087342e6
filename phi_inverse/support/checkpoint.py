"""Saving and restoring networks, optimizers and training progress, on every ML backend.

Wraps `phiml.nn.save_state` / `load_state` and fills their gaps for optimizers: Keras 3 optimizers keep
their state in `optimizer.variables`, created only when first used; PhiML's JAX optimizer applies its
updates to the parameters held in its own state, which its `load_state` leaves at their initial values,
and it does not save its step counter.
"""
import json
import os
from typing import Dict, Optional

import numpy as np
from phiml import nn

PROGRESS_FILE = 'progress.json'


class Checkpoint:
    """A directory holding the state of named networks/optimizers plus a JSON progress record.

    Args:
        directory: Where the files go; created on the first `save()`.
        objects: Networks and optimizers by name, restored in place by `load()`.
    """

    def __init__(self, directory: str, objects: Dict[str, object]):
        self.directory = directory
        self.objects = objects

    @property
    def exists(self) -> bool:
        return os.path.isfile(os.path.join(self.directory, PROGRESS_FILE))

    def save(self, progress: dict):
        """Writes every object's state, then `progress` (last, so a complete progress file marks a complete checkpoint)."""
        os.makedirs(self.directory, exist_ok=True)
        for name, obj in self.objects.items():
            _save_state(obj, os.path.join(self.directory, name))
        temporary = os.path.join(self.directory, PROGRESS_FILE + '.tmp')
        with open(temporary, 'w') as file:
            json.dump(progress, file)
        os.replace(temporary, os.path.join(self.directory, PROGRESS_FILE))

    def load(self) -> Optional[dict]:
        """Restores every object in place and returns the saved progress, or `None` if there is no checkpoint."""
        if not self.exists:
            return None
        keras_variables = [v for obj in self.objects.values() if _is_keras_model(obj) for v in obj.trainable_variables]
        for name, obj in self.objects.items():
            _load_state(obj, os.path.join(self.directory, name), keras_variables)
        with open(os.path.join(self.directory, PROGRESS_FILE)) as file:
            return json.load(file)


def _is_keras_optimizer(obj) -> bool:
    return type(obj).__module__.startswith('keras') and hasattr(obj, 'variables') and hasattr(obj, 'apply_gradients')


def _is_jax_optimizer(obj) -> bool:
    return type(obj).__name__ == 'JaxOptimizer'


def _save_state(obj, path: str):
    if _is_keras_optimizer(obj):
        np.savez(path + '.keras-optimizer.npz', *[np.asarray(v) for v in obj.variables])
    elif _is_jax_optimizer(obj):
        slots = [np.asarray(array) for slot in obj._state.packed_state for array in slot]
        np.savez(path + '.jax-optimizer.npz', np.asarray(obj._step_i), *slots)
    else:
        nn.save_state(obj, path + ('.weights' if _is_keras_model(obj) else ''))


def _load_state(obj, path: str, keras_variables: list):
    if _is_keras_optimizer(obj):
        arrays = np.load(path + '.keras-optimizer.npz')
        values = [arrays[f'arr_{i}'] for i in range(len(arrays.files))]
        if len(obj.variables) < len(values):
            obj.build(keras_variables)  # creates the slot variables (e.g. Adam moments) in the saved order
        if len(obj.variables) != len(values):
            raise RuntimeError(f"Saved optimizer state has {len(values)} variables but the optimizer has {len(obj.variables)}. "
                               f"Was the checkpoint written for another network or optimizer?")
        for variable, value in zip(obj.variables, values):
            variable.assign(value)
    elif _is_jax_optimizer(obj):
        _load_jax_optimizer(obj, path)
    else:
        nn.load_state(obj, path + ('.weights' if _is_keras_model(obj) else ''))


def _load_jax_optimizer(optimizer, path: str):
    import jax.numpy as jnp
    arrays = np.load(path + '.jax-optimizer.npz')
    step, *flat = [arrays[f'arr_{i}'] for i in range(len(arrays.files))]
    state = optimizer._state
    if len(flat) != sum(len(slot) for slot in state.packed_state):
        raise RuntimeError("Saved JAX optimizer state does not match this optimizer. Was it written for another network or optimizer?")
    values = iter(flat)
    packed = [tuple(jnp.asarray(next(values)) for _ in slot) for slot in state.packed_state]
    optimizer._state = type(state)(packed, state.tree_def, state.subtree_defs)
    optimizer._step_i = int(step)


def _is_keras_model(obj) -> bool:
    return hasattr(obj, 'trainable_variables') and any(c.__module__.startswith('keras') for c in type(obj).__mro__)
