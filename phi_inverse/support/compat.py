"""Workarounds for defects of PhiML 1.16's backends that change results or cost minutes, applied at the edge.

* JAX: `JaxOptimizer.update` (used by `phiml.nn.update_weights`) never advances the optimizer's step counter,
  so Adam's bias correction stays at step 0 and the effective step size settles at ≈0.32× that of PyTorch
  and TensorFlow. Jit-compiled, it also closes over the optimizer state of its first call, so training stops
  progressing. `patch_jax_optimizer()` replaces it with an update that passes the current state and step.
* JAX: the backend's hyperbolic and inverse trigonometric functions (`tanh`, `sinh`, `arctan`, …) and
  `argmax`/`argmin` are NumPy's, so they pull values to the host, cut gradients and fail inside `jit`.
  `patch_jax_math()` replaces them with `jax.numpy`'s.
* TensorFlow: `jit_compile` wraps functions in `tf.function` with AutoGraph enabled, which rewrites PhiML's
  own Python internals on every trace (tens of seconds to minutes per trace). PhiML code does not rely on
  AutoGraph (it uses the backend's loop primitives explicitly), so `patch_tensorflow_jit()` traces without it.
* TensorFlow: the backend's gradient decides between `tape.gradient` and `tape.jacobian` with a Python `if` on
  a traced shape, so no function that differentiates (e.g. a Newton update inside a training step) can be
  jit-compiled. `patch_tensorflow_jit()` decides on the static shape instead.

`apply()` patches whichever of these backends is imported; `phi_inverse.support.backends` calls it when selecting one.
"""
import sys

_PATCHED = set()


def apply():
    """Applies the patches for every backend that is imported. Idempotent and cheap."""
    if 'jax' in sys.modules and 'jax' not in _PATCHED:
        patch_jax_optimizer()
        patch_jax_math()
    if 'tensorflow' in sys.modules and 'tensorflow' not in _PATCHED:
        patch_tensorflow_jit()


def patch_jax_optimizer():
    """Makes `JaxOptimizer.update` advance its step counter and update the current state, eager and jit-compiled."""
    from phiml.backend.jax import stax_nets
    stax_nets.JaxOptimizer.update = _jax_update
    _PATCHED.add('jax')


JAX_NUMPY_FUNCTIONS = ('arctan', 'arctan2', 'sinh', 'arcsinh', 'cosh', 'arccosh', 'tanh', 'arctanh', 'argmax', 'argmin')


def patch_jax_math():
    """Makes the JAX backend compute `JAX_NUMPY_FUNCTIONS` with `jax.numpy` instead of NumPy."""
    import jax.numpy as jnp
    from phiml.backend.jax._jax_backend import JaxBackend
    for name in JAX_NUMPY_FUNCTIONS:
        setattr(JaxBackend, name, staticmethod(getattr(jnp, name)))


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


def patch_tensorflow_jit():
    """Makes PhiML trace TensorFlow functions without AutoGraph."""
    import tensorflow as tf
    from phiml.backend.tensorflow import TENSORFLOW

    def jit_compile(f):
        compiled = tf.function(f, autograph=False)
        return lambda *args: TENSORFLOW.as_registered.call(compiled, *args, name=f"run jit-compiled '{f.__name__}'")
    TENSORFLOW.jit_compile = jit_compile
    TENSORFLOW.jacobian = _tensorflow_jacobian
    _PATCHED.add('tensorflow')


def _tensorflow_jacobian(f, wrt, get_output: bool, is_f_scalar: bool):
    import tensorflow as tf
    from phiml.backend.tensorflow import TENSORFLOW as backend

    def eval_grad(*args):
        args = [backend.as_tensor(arg, True) if i in wrt else arg for i, arg in enumerate(args)]
        args = [backend.to_float(arg) if i in wrt and backend.dtype(arg).kind in (bool, int) else arg for i, arg in enumerate(args)]
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
