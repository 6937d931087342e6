"""Fixtures that run a test on every installed backend, inside that backend's context."""
import os
import warnings

import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore', message='.*requires_grad=True to a scalar.*')

from phi_inverse.support import backends  # noqa: E402
from phi_inverse.support.checks import TRAINING_BACKENDS  # noqa: E402

INSTALLED = backends.installed()
ML_BACKENDS = [name for name in INSTALLED if name in TRAINING_BACKENDS]


@pytest.fixture(autouse=True)
def restore_default_backend():
    """Tests that select a global backend (like the demos do) must not change the backend of later tests."""
    from phiml.backend import default_backend, set_global_default_backend
    previous = default_backend()
    yield
    set_global_default_backend(previous)


@pytest.fixture(params=INSTALLED)
def backend(request):
    """Every installed backend, NumPy included, as the context backend of the test."""
    selected = backends.get(request.param)
    with selected:
        yield selected


@pytest.fixture(params=ML_BACKENDS)
def ml_backend(request):
    """Every installed backend that can train networks, as the context backend of the test."""
    selected = backends.get(request.param)
    with selected:
        yield selected


@pytest.fixture(params=[name for name in ML_BACKENDS if name in ('torch', 'jax')])
def network_backend(request):
    """PyTorch and JAX, the backends of the hand-built networks (FNO, encoder–decoder, dropout U-net)."""
    selected = backends.get(request.param)
    with selected:
        yield selected


@pytest.fixture
def torch_backend():
    pytest.importorskip('torch')
    selected = backends.get('torch')
    with selected:
        yield selected


@pytest.fixture
def single_torch_thread():
    """One PyTorch thread: tiny networks gain nothing from two, and two oversubscribe a shared 2-core machine.

    Modules opt in with `pytestmark = pytest.mark.usefixtures('single_torch_thread')`.
    """
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
