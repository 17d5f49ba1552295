"""Argument checks of the core API: one message format, static checks and value checks.

Every message is one line, ``"<function>: <argument> must be <domain>, got <value>"``, raised
as a ``ValueError``.

* **Static checks** (ranks, shapes, dtypes, options, and domains of parameters given as Python
  numbers or concrete arrays) read only what is known when a function is traced, so they always
  run and cost nothing under ``jax.jit``. A parameter that is itself traced (a ``jit`` argument)
  is checked only as a value check.
* **Value checks** (NaN, labels in range, weights summing to one, positive definiteness) need the
  numbers, so they run only with ``validate_args=True`` (as in distrax and TensorFlow
  Probability), through :func:`jax.experimental.checkify.check`: called eagerly (also under
  ``jax.vmap`` and ``jax.grad``) a failed check raises at once
  (``checkify.JaxRuntimeError``, a ``ValueError``); under ``jax.jit`` the caller functionalizes
  the checks, ``err, out = jax.jit(checkify.checkify(f))(...)`` and then ``err.throw()``.
  Under ``jit`` without ``checkify``, JAX refuses to compile the checks and says to use
  ``checkify.checkify``.
* Metrics usually called on concrete arrays (calibration, the Fréchet distance) check values
  whenever their inputs are concrete, and under a transformation only with
  ``validate_args=True``; the numpy-only metrics (graphs, sample quality) always check.
"""

from __future__ import annotations

import numbers
import operator

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

Array = jax.Array


def error(function: str, argument: str, need: str, got: str) -> ValueError:
    """The error ``"<function>: <argument> must be <need>, got <got>"``."""
    return ValueError(f"{function}: {argument} must be {need}, got {got}")


def is_traced(*values) -> bool:
    """Whether any leaf of ``values`` is a tracer (its value is unknown at trace time)."""
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(values))


# -- Static checks -----------------------------------------------------------------------


def require_rank(function: str, argument: str, x, ndim: int, spelled: str,
                 hint: str = "") -> None:
    """``x`` has ``ndim`` axes (``spelled`` names them, e.g. ``"(T, K)"``); ``hint`` follows."""
    if jnp.ndim(x) != ndim:
        raise error(function, argument, f"of shape {spelled}",
                    f"shape {jnp.shape(x)}{hint}")


def require_min_rank(function: str, argument: str, x, ndim: int, spelled: str) -> None:
    """``x`` has at least ``ndim`` axes (``spelled`` names them, e.g. ``"(B, ...)"``)."""
    if jnp.ndim(x) < ndim:
        raise error(function, argument, f"of shape {spelled}", f"shape {jnp.shape(x)}")


def require_shape(function: str, argument: str, x, shape: tuple[int, ...],
                  spelled: str) -> None:
    """``x`` has exactly ``shape`` (no broadcasting), written ``spelled`` (e.g. ``"(K, K)"``)."""
    if tuple(jnp.shape(x)) != tuple(shape):
        raise error(function, argument, f"of shape {spelled} = {tuple(shape)}",
                    f"shape {jnp.shape(x)}")


def require_one_example(function: str, x, event_ndim: int) -> None:
    """``x`` is one example with ``event_ndim`` axes; a batch is refused with the vmap advice."""
    if not isinstance(event_ndim, numbers.Integral) or event_ndim < 1:
        raise error(function, "event_ndim", "an integer >= 1", repr(event_ndim))
    if jnp.ndim(x) != event_ndim:
        spelled = "(D,)" if event_ndim == 1 else f"an event of {event_ndim} axes"
        raise error(function, "x", f"one example of shape {spelled} (event_ndim={event_ndim})",
                    f"shape {jnp.shape(x)}; jax.vmap over a batch, or pass "
                    f"event_ndim={jnp.ndim(x)} if one example has {jnp.ndim(x)} axes")


def one_example(function: str, x, event_ndim: int | None) -> Array:
    """``x`` as an array: floating, one example of ``event_ndim`` axes (any rank for None)."""
    x = jnp.asarray(x)
    if event_ndim is not None:
        require_one_example(function, x, event_ndim)
    require_floating(function, "x", x)
    return x


def require_field_output(function: str, argument: str, y, x) -> None:
    """The vector field (or score) ``argument`` returned ``y`` shaped like its input ``x``."""
    if jnp.shape(y) != jnp.shape(x):
        raise error(function, argument, f"a map R^D to R^D (an output of x's shape "
                    f"{jnp.shape(x)})", f"an output of shape {jnp.shape(y)}")


def require_callable(function: str, argument: str, value) -> None:
    """``value`` is a function (e.g. a vector field passed where an array was expected)."""
    if not callable(value):
        raise error(function, argument, "callable", f"an object of type {type(value).__name__}")


def require_floating(function: str, argument: str, x) -> None:
    """``x`` has a floating-point dtype."""
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise error(function, argument, "a floating-point array", f"dtype {dtype}")


def require_floating_dtype(function: str, argument: str, dtype) -> None:
    """``dtype`` (an argument naming a dtype, e.g. ``jnp.float32``) is a floating dtype."""
    if not jnp.issubdtype(dtype, jnp.floating):
        raise error(function, argument, "a floating dtype", str(jnp.dtype(dtype)))


def require_integer(function: str, argument: str, x) -> None:
    """``x`` has an integer dtype."""
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise error(function, argument, "an integer array", f"dtype {dtype}")


def require_labelled_rows(function: str, argument: str, x, labels) -> None:
    """``x`` is a floating ``(N, D)`` array and ``labels`` an integer ``(N,)`` one per row."""
    require_rank(function, argument, x, 2, "(N, D)")
    require_floating(function, argument, x)
    require_shape(function, "labels", labels, jnp.shape(x)[:1], "(N,)")
    require_integer(function, "labels", labels)


def require_option(function: str, argument: str, value, allowed: tuple) -> None:
    """``value`` is one of ``allowed``."""
    if value not in allowed:
        raise error(function, argument, f"one of {allowed}", repr(value))


def require_broadcast(function: str, **shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of the named arguments' shapes; a mismatch names every argument."""
    try:
        return jnp.broadcast_shapes(*shapes.values())
    except ValueError:
        got = ", ".join(f"{name} {tuple(shape)}" for name, shape in shapes.items())
        raise error(function, ", ".join(shapes), "of shapes that broadcast together",
                    got) from None


def _concrete(value) -> np.ndarray | None:
    """``value`` as a numpy array, or None when it is traced."""
    if is_traced(value):
        return None
    return np.asarray(value)


def require_integer_at_least(function: str, argument: str, value, minimum: int) -> None:
    """``value`` is an integer ``>= minimum`` (skipped when ``value`` is traced).

    Python and numpy integers and concrete 0-d integer arrays count; ``bool`` and floats
    (``2.0``) do not.
    """
    if is_traced(value):
        return
    try:
        number = None if isinstance(value, (bool, np.bool_)) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < minimum:
        raise error(function, argument, f"an integer >= {minimum}", _describe(value))


def require_greater(function: str, argument: str, value, bound: float = 0.0) -> None:
    """Every entry of ``value`` is ``> bound`` (skipped when ``value`` is traced)."""
    array = _concrete(value)
    if array is None:
        return
    if not np.issubdtype(array.dtype, np.number) or not np.all(array > bound):
        raise error(function, argument, f"> {bound:g}", _describe(value))


def require_at_least(function: str, argument: str, value, bound: float) -> None:
    """Every entry of ``value`` is ``>= bound`` (skipped when ``value`` is traced)."""
    array = _concrete(value)
    if array is None:
        return
    if not np.issubdtype(array.dtype, np.number) or not np.all(array >= bound):
        raise error(function, argument, f">= {bound:g}", _describe(value))


def _describe(value) -> str:
    """A short text for a bad parameter: the number itself, or an array's smallest entry."""
    array = np.asarray(value)
    if array.ndim == 0 or not np.issubdtype(array.dtype, np.number):
        return repr(value.item() if isinstance(value, (np.ndarray, jax.Array)) else value)
    return f"an array with min {np.nanmin(array) if array.size else 'none'}"


# -- Value checks (validate_args) --------------------------------------------------------


def check(function: str, predicate, message: str, *values) -> None:
    """``checkify.check(predicate, "<function>: <message>", *values)``.

    ``message`` may hold ``{}`` placeholders, filled with ``values`` (arrays) when the check
    fails. Eagerly a false predicate raises ``checkify.JaxRuntimeError`` (a ``ValueError``);
    under ``jax.jit`` the caller wraps the function in ``checkify.checkify`` (without it,
    JAX refuses to compile the check and says so).
    """
    checkify.check(predicate, f"{function}: {message}", *values)


def check_finite(function: str, argument: str, x) -> None:
    """Value check: no NaN or infinite entry in ``x``."""
    check(function, jnp.all(jnp.isfinite(x)), f"{argument} must be finite, got NaN or inf")


def check_in_range(function: str, argument: str, x, low, high) -> None:
    """Value check: every entry of ``x`` lies in ``[low, high)``."""
    x = jnp.asarray(x)
    if x.size == 0:
        return
    check(function, jnp.all((x >= low) & (x < high)),
          f"{argument} must be in [{low}, {high}), got min {{}} and max {{}}",
          jnp.min(x), jnp.max(x))


def _check_symmetric(function: str, argument: str, matrices: Array) -> None:
    """Value check: ``matrices`` (``(..., D, D)``) are symmetric to 1e-5 of the largest entry."""
    asymmetry = jnp.max(jnp.abs(matrices - jnp.swapaxes(matrices, -1, -2)))
    check(function, asymmetry <= 1e-5 * jnp.max(jnp.abs(matrices)),
          f"{argument} must be symmetric, got max |C - C^T| = {{}}", asymmetry)


def check_positive_definite(function: str, argument: str, matrices, cholesky) -> None:
    """Value check: ``matrices`` (``(..., D, D)``) are symmetric positive definite.

    ``cholesky`` is their Cholesky factor, already computed by the caller (``jnp.linalg``
    returns NaN for a matrix that is not positive definite); symmetry is checked to a
    relative tolerance of ``1e-5`` of the largest entry (the factor reads only one triangle).
    """
    _check_symmetric(function, argument, jnp.asarray(matrices))
    diagonal = jnp.diagonal(cholesky, axis1=-2, axis2=-1)
    check(function, jnp.all(jnp.isfinite(cholesky)) & jnp.all(diagonal > 0),
          f"{argument} must be positive definite (its Cholesky factorization failed)")


def check_positive_semidefinite(function: str, argument: str, matrix) -> None:
    """Value check: ``matrix`` (``(D, D)``) is symmetric with eigenvalues ``>= -tol max|w|``.

    ``tol = max(1e-6, 16 D eps)`` (``eps`` of the dtype) and symmetry to ``1e-5`` of the
    largest entry allow the rounding of a sample covariance, whose zero eigenvalues come
    out slightly negative in float32.
    """
    matrix = jnp.asarray(matrix)
    _check_symmetric(function, argument, matrix)
    eigenvalues = jnp.linalg.eigvalsh(matrix)
    tolerance = max(1e-6, 16 * matrix.shape[-1]
                    * float(jnp.finfo(jnp.result_type(matrix, float)).eps))
    check(function, jnp.all(eigenvalues >= -tolerance * jnp.max(jnp.abs(eigenvalues))),
          f"{argument} must be positive semi-definite, got an eigenvalue {{}}",
          jnp.min(eigenvalues))


def check_probabilities(function: str, argument: str, p, axis: int = -1) -> None:
    """Value check: ``p`` is non-negative and sums to one along ``axis``.

    The sum may miss one by ``max(1e-5, 4 n eps)`` (``n`` terms, ``eps`` of ``p``'s dtype):
    the rounding of a float32 softmax, far below any real error.
    """
    p = jnp.asarray(p)
    if p.size == 0:
        return
    check(function, jnp.all(p >= 0), f"{argument} must be non-negative, got min {{}}",
          jnp.min(p))
    tolerance = max(1e-5, 4 * p.shape[axis] * float(jnp.finfo(jnp.result_type(p, float)).eps))
    miss = jnp.abs(jnp.sum(p, axis=axis) - 1).reshape(-1)
    check(function, jnp.all(miss <= tolerance),
          f"{argument} must sum to 1, got a sum that misses 1 by {{}}", jnp.max(miss))
