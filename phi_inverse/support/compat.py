"""Workarounds for defects of PhiML 1.16's backends that change results or cost minutes.

`WORKAROUNDS` registers each one with the defect it removes, the PhiML versions it is written for and the
private PhiML members it relies on:

* `jax_optimizer_step`: `JaxOptimizer.update` (used by `phiml.nn.update_weights`) never advances the step
  counter, so Adam's bias correction stays at step 0 and the effective step size settles at ≈0.32× that of
  PyTorch and TensorFlow; jit-compiled, it also closes over the optimizer state of its first call, so training
  stops progressing. Replaced by an update that passes the current state and step.
* `jax_numpy_math`: the JAX backend's hyperbolic and inverse trigonometric functions and `argmax`/`argmin` are
  NumPy's, so they pull values to the host, cut gradients and fail inside `jit`. Replaced by `jax.numpy`'s.
* `tensorflow_jit_without_autograph`: `jit_compile` wraps functions in `tf.function` with AutoGraph, which
  rewrites PhiML's own Python internals on every trace (tens of seconds to minutes per trace). PhiML code uses
  the backend's loop primitives explicitly and does not need AutoGraph, so functions are traced without it.
* `tensorflow_gradient_in_jit`: the backend's gradient chooses between `tape.gradient` and `tape.jacobian` with a
  Python `if` on a traced shape, so no function that differentiates can be jit-compiled. Replaced by a
  gradient that decides on the static shape.

How they are applied. PhiML creates a backend when the module defining it runs (`phiml.backend.jax` runs
`JAX = JaxBackend()`), and that happens by several routes: `phiml.backend.init_backend` (from `math.use`,
from `choose_backend` meeting an unknown tensor, from `nn`'s `init_backend('all-imported')`) or a plain import
such as `phi.jax`'s `from phiml.backend.jax import JAX`. The one step all routes share is the execution of the
module that defines the replaced class (wrapping `init_backend` would miss the plain imports and the callers
that bound it by name), so `apply()`, called once by `import phi_inverse`,

1. applies every workaround whose PhiML module is already imported, and
2. puts a finder at the front of `sys.meta_path` that answers for nothing but those modules' names: it lets the
   other finders find the module and wraps only its loader, so that the workaround is applied right after the
   module's code has run, before any other code can use the class.

Hence a backend imported before or after `phi_inverse` is patched alike. A workaround replaces class attributes
by functions of this module and leaves attributes that already are its replacements alone, so applying it again
changes nothing; `Workaround.revert()` restores PhiML's originals. A workaround is skipped with a
`RuntimeWarning` naming the PhiML version if that version is outside its `versions` (the 1.16 releases its
replacements are written against; earlier releases have the same defects) or lacks a private member it
relies on.
"""
import functools
import importlib.abc
import sys
import warnings
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Dict, List, Tuple

from packaging.specifiers import SpecifierSet
from packaging.version import Version

_INHERITED = object()


@dataclass(frozen=True)
class Workaround:
    """One PhiML defect and the class attributes that replace it.

    Attributes:
        name: Key in `WORKAROUNDS`.
        defect: What goes wrong without the workaround.
        versions: PEP 440 specifier of the PhiML versions that have the defect and that it is written for.
        module: The PhiML module defining the replaced attributes; the workaround is applied once it has run.
        replacements: `replacements(module) -> {(owner, attribute): value}`.
        missing: `missing(module) -> [names of the private members relied on that do not exist]`.
    """
    name: str
    defect: str
    versions: str
    module: str
    replacements: Callable[[ModuleType], Dict[Tuple[type, str], Any]]
    missing: Callable[[ModuleType], List[str]]
    _originals: dict = field(default_factory=dict, repr=False, compare=False)

    def is_applied(self) -> bool:
        module = sys.modules.get(self.module)
        return module is not None and not self.missing(module) and all(
            getattr(owner, attribute) is _resolved(value) for (owner, attribute), value in self.replacements(module).items())

    def apply(self) -> bool:
        """Applies the workaround if its module is imported. Returns whether it is in effect."""
        module = sys.modules.get(self.module)
        if module is None:
            return False
        import phiml
        version = phiml.__version__.strip()
        if Version(version) not in SpecifierSet(self.versions):
            return self._skip(version, f"it is written for PhiML {self.versions}")
        missing = self.missing(module)
        if missing:
            return self._skip(version, f"PhiML {version} lacks {', '.join(missing)}")
        if self.is_applied():
            return True
        for (owner, attribute), value in self.replacements(module).items():
            self._originals.setdefault((owner, attribute), owner.__dict__.get(attribute, _INHERITED))
            setattr(owner, attribute, value)
        return True

    def revert(self):
        """Restores the attributes PhiML defined."""
        for (owner, attribute), original in self._originals.items():
            if original is _INHERITED:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)
        self._originals.clear()

    def _skip(self, version: str, reason: str) -> bool:
        warnings.warn(f"phi_inverse does not apply its workaround '{self.name}' to PhiML {version} because {reason}. "
                      f"If PhiML {version} still has the defect, results are affected: {self.defect}", RuntimeWarning, stacklevel=3)
        return False


def _resolved(value):
    return value.__func__ if isinstance(value, staticmethod) else value


def _missing_members(namespace, *dotted_names: str) -> List[str]:
    """The names among `dotted_names` (e.g. `'JaxOptimizer.update'`) that `namespace` lacks."""
    def exists(name: str) -> bool:
        owner = namespace
        for part in name.split('.'):
            if not hasattr(owner, part):
                return False
            owner = getattr(owner, part)
        return True
    return [name for name in dotted_names if not exists(name)]


def _missing_instance_attributes(cls: type, *names: str) -> List[str]:
    """The names among `names` that `cls.__init__` does not set (or read)."""
    init_names = getattr(getattr(cls, '__init__', None), '__code__', None)
    init_names = init_names.co_names if init_names is not None else ()
    return [f"{cls.__name__}().{name}" for name in names if name not in init_names]


# --- JAX: the optimizer's step counter and state ---

def _jax_optimizer_replacements(stax_nets):
    return {(stax_nets.JaxOptimizer, 'update'): _jax_update}


def _jax_optimizer_missing(stax_nets) -> List[str]:
    from phiml.math import _functional
    missing = _missing_members(stax_nets, 'JaxOptimizer.update', 'JaxOptimizer.get_network_parameters', 'StaxNet', 'OptimizerState')
    missing += _missing_members(_functional, 'JitFunction')
    if missing:
        return missing
    missing += _missing_instance_attributes(stax_nets.JaxOptimizer, '_state', '_step_i', '_update_function_cache', '_update', '_get_params')
    missing += _missing_instance_attributes(stax_nets.StaxNet, '_tracers')
    missing += _missing_instance_attributes(_functional.JitFunction, 'f')
    fields = getattr(stax_nets.OptimizerState, '_fields', ())
    return missing + [f"OptimizerState.{name}" for name in ('packed_state', 'tree_def', 'subtree_defs') if name not in fields]


def _jax_update(self, net, loss_function, wrt, loss_args, loss_kwargs):
    from jax.tree_util import tree_flatten
    from phiml import math
    from phiml.math._functional import JitFunction
    if loss_function not in self._update_function_cache:
        def update(packed_state, step, loss_args: tuple, loss_kwargs: dict):
            return _jax_step(self, net, loss_function, packed_state, step, loss_args, loss_kwargs)
        self._update_function_cache[loss_function] = math.jit_compile(update) if isinstance(loss_function, JitFunction) else update
    parameters, _ = tree_flatten(net.parameters)
    packed_state = [(p, *slot[1:]) for p, slot in zip(parameters, self._state.packed_state)]
    step = math.tensor(self._step_i)  # a tensor, so that a jit-compiled update does not bake it in
    next_packed_state, loss_output = self._update_function_cache[loss_function](packed_state, step, tuple(loss_args), dict(loss_kwargs))
    self._state = type(self._state)(next_packed_state, self._state.tree_def, self._state.subtree_defs)
    self._step_i += 1
    net.parameters = self.get_network_parameters()
    return loss_output


def _jax_step(optimizer, net, loss_function, packed_state, step, loss_args: tuple, loss_kwargs: dict):
    from phiml import math
    from phiml.math._functional import JitFunction
    plain_loss = loss_function.f if isinstance(loss_function, JitFunction) else loss_function

    def loss_of_parameters(parameters, loss_args, loss_kwargs):
        net._tracers = parameters
        try:
            return plain_loss(*loss_args, **loss_kwargs)
        finally:
            net._tracers = None
    state = type(optimizer._state)(packed_state, optimizer._state.tree_def, optimizer._state.subtree_defs)
    value, gradients = math.gradient(loss_of_parameters, 'parameters')(optimizer._get_params(state), loss_args, loss_kwargs)
    return optimizer._update(step.native(), gradients, state).packed_state, value


# --- JAX: NumPy functions in the backend ---

JAX_NUMPY_FUNCTIONS = ('arctan', 'arctan2', 'sinh', 'arcsinh', 'cosh', 'arccosh', 'tanh', 'arctanh', 'argmax', 'argmin')


def _jax_math_replacements(jax_backend):
    import jax.numpy as jnp
    return {(jax_backend.JaxBackend, name): staticmethod(getattr(jnp, name)) for name in JAX_NUMPY_FUNCTIONS}


def _jax_math_missing(jax_backend) -> List[str]:
    return _missing_members(jax_backend, 'JaxBackend', *[f'JaxBackend.{name}' for name in JAX_NUMPY_FUNCTIONS])


# --- TensorFlow: tracing without AutoGraph, gradients inside traces ---

def _tensorflow_jit_replacements(tf_backend):
    return {(tf_backend.TFBackend, 'jit_compile'): _tensorflow_jit_compile}


def _tensorflow_jit_missing(tf_backend) -> List[str]:
    return _missing_members(tf_backend, 'TFBackend.jit_compile', 'TFBackend.as_registered', 'TFBackend.call')


def _tensorflow_jit_compile(self, f):
    import tensorflow as tf
    compiled = tf.function(f, autograph=False)
    return lambda *args: self.as_registered.call(compiled, *args, name=f"run jit-compiled '{f.__name__}'")


def _tensorflow_gradient_replacements(tf_backend):
    return {(tf_backend.TFBackend, 'jacobian'): _tensorflow_jacobian}


def _tensorflow_gradient_missing(tf_backend) -> List[str]:
    return _missing_members(tf_backend, 'TFBackend.jacobian', 'TFBackend.as_tensor', 'TFBackend.to_float', 'TFBackend.dtype')


def _tensorflow_jacobian(self, f, wrt, get_output: bool, is_f_scalar: bool):
    import tensorflow as tf

    @functools.wraps(f)
    def eval_grad(*args):
        args = [self.as_tensor(arg, True) if i in wrt else arg for i, arg in enumerate(args)]
        args = [self.to_float(arg) if i in wrt and self.dtype(arg).kind in (bool, int) else arg for i, arg in enumerate(args)]
        wrt_args = [arg for i, arg in enumerate(args) if i in wrt]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            for arg in wrt_args:
                tape.watch(arg)
            loss, output = f(*args)
        scalar = loss.shape.num_elements() == 1 if loss.shape.is_fully_defined() else is_f_scalar
        gradients = list(tape.gradient(loss, wrt_args) if scalar else tape.jacobian(loss, wrt_args))
        if any(g is None for g in gradients):
            raise AssertionError(f"TensorFlow returned no gradient for argument {gradients.index(None)} of {f.__name__}.")
        return (*output, *gradients) if get_output else gradients
    return eval_grad


# --- The registry and when it is applied ---

PHIML_1_16 = '>=1.16.1,<1.17'
WORKAROUNDS: Dict[str, Workaround] = {w.name: w for w in [
    Workaround('jax_optimizer_step', "JAX optimizers never advance their step counter, so Adam's bias correction stays "
               "at step 0, and jit-compiled updates reuse the state of their first call.", PHIML_1_16,
               'phiml.backend.jax.stax_nets', _jax_optimizer_replacements, _jax_optimizer_missing),
    Workaround('jax_numpy_math', f"The JAX backend computes {', '.join(JAX_NUMPY_FUNCTIONS)} with NumPy, which "
               "cuts gradients and fails inside jit.", PHIML_1_16,
               'phiml.backend.jax._jax_backend', _jax_math_replacements, _jax_math_missing),
    Workaround('tensorflow_jit_without_autograph', "TensorFlow traces jit-compiled functions with AutoGraph, which "
               "rewrites PhiML's internals on every trace (tens of seconds to minutes).", PHIML_1_16,
               'phiml.backend.tensorflow._tf_backend', _tensorflow_jit_replacements, _tensorflow_jit_missing),
    Workaround('tensorflow_gradient_in_jit', "TensorFlow gradients branch in Python on a traced shape, so functions "
               "that differentiate cannot be jit-compiled.", PHIML_1_16,
               'phiml.backend.tensorflow._tf_backend', _tensorflow_gradient_replacements, _tensorflow_gradient_missing),
]}


class _ApplyAfterExecution(importlib.abc.Loader):
    """Runs a module with its own loader, then applies the workarounds for that module."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        for workaround in WORKAROUNDS.values():
            if workaround.module == module.__name__:
                workaround.apply()


class _WorkaroundFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for the modules in `WORKAROUNDS`, wraps the loader that the other finders return."""

    def find_spec(self, fullname, path=None, target=None):
        if all(workaround.module != fullname for workaround in WORKAROUNDS.values()):
            return None
        for finder in sys.meta_path:
            spec = finder.find_spec(fullname, path, target) if finder is not self and hasattr(finder, 'find_spec') else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, 'exec_module'):
                    spec.loader = _ApplyAfterExecution(spec.loader)
                return spec
        return None


_FINDER = _WorkaroundFinder()


def apply():
    """Applies every workaround to the PhiML modules imported so far and to those imported later. Idempotent."""
    if not any(isinstance(finder, _WorkaroundFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FINDER)
    for workaround in WORKAROUNDS.values():
        workaround.apply()
