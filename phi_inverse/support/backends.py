"""Selecting PhiFlow's backend and device by name, as the demos, benchmarks and tests do."""
import importlib
import importlib.util
import os
import warnings
from typing import List, Optional

from phiml.backend import Backend, set_global_default_backend

FLOW_MODULES = {'numpy': 'phi.flow', 'torch': 'phi.torch.flow', 'tensorflow': 'phi.tf.flow', 'jax': 'phi.jax.stax.flow'}
LIBRARIES = {'numpy': 'numpy', 'torch': 'torch', 'tensorflow': 'tensorflow', 'jax': 'jax'}


def installed() -> List[str]:
    """Names of the backends whose library is installed, in the order numpy, torch, tensorflow, jax."""
    return [name for name, library in LIBRARIES.items() if importlib.util.find_spec(library) is not None]


def get(name: str) -> Backend:
    """Imports PhiFlow's flavour for `name` (`'numpy'`, `'torch'`, `'tensorflow'` or `'jax'`) and returns its backend."""
    if name not in FLOW_MODULES:
        raise ValueError(f"Unknown backend '{name}'. Choose one of {tuple(FLOW_MODULES)}.")
    if name not in installed():
        raise ImportError(f"Backend '{name}' is not installed. Install it with: pip install \"phi_inverse[{name}]\"")
    if name == 'tensorflow':
        os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    importlib.import_module(FLOW_MODULES[name])
    from phiml.backend import BACKENDS
    return next(b for b in BACKENDS if b.name == name)


def select(name: str, device: Optional[str] = None) -> Backend:
    """Makes `name` the global default backend and optionally selects its device.

    Args:
        name: `'numpy'`, `'torch'`, `'tensorflow'` or `'jax'`.
        device: `'cpu'`, `'gpu'` or `None` for PhiFlow's choice (GPU when present).
            A GPU that is not available is reported with a warning, and the CPU is used.

    Returns:
        The selected `Backend`; `describe_device(backend)` tells which device it computes on.
    """
    backend = set_global_default_backend(get(name))
    if device is not None:
        device = device.upper()
        if device not in ('CPU', 'GPU'):
            raise ValueError(f"device must be 'cpu' or 'gpu' but got '{device.lower()}'.")
        if not backend.list_devices(device) or not backend.set_default_device(device):
            warnings.warn(f"No {device} is available to {name}; running on {describe_device(backend)}.", RuntimeWarning)
    return backend


def limit_threads(name: str, threads: int):
    """Limits the CPU threads one operation of backend `name` may use. TensorFlow and JAX read the limit when they
    start (call it before `select()`); PyTorch takes a new limit at any time.

    Small networks gain nothing from intra-op parallelism, and on a machine shared with other processes
    idle-spinning worker threads can slow a training step down many times.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1 but got {threads}.")
    os.environ['TF_NUM_INTRAOP_THREADS'] = os.environ['TF_NUM_INTEROP_THREADS'] = str(threads)
    if threads == 1:
        os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' --xla_cpu_multi_thread_eigen=false').strip()
    if name == 'torch' and 'torch' in installed():
        import torch
        torch.set_num_threads(threads)


def describe_device(backend: Backend) -> str:
    """The device type the backend allocates new tensors on, e.g. `'CPU'` or `'GPU'`."""
    return backend.get_default_device().device_type


def peak_device_memory_mb(backend: Backend) -> dict:
    """`{'peak_gpu_mb': …}`, the backend's own peak GPU allocation, or `{}` when computing on the CPU."""
    if describe_device(backend) != 'GPU':
        return {}
    if backend.name == 'torch':
        import torch
        return {'peak_gpu_mb': torch.cuda.max_memory_allocated() / 2 ** 20}
    if backend.name == 'jax':
        import jax
        return {'peak_gpu_mb': (jax.devices()[0].memory_stats() or {}).get('peak_bytes_in_use', float('nan')) / 2 ** 20}
    if backend.name == 'tensorflow':
        import tensorflow as tf
        return {'peak_gpu_mb': tf.config.experimental.get_memory_info('GPU:0')['peak'] / 2 ** 20}
    return {}
