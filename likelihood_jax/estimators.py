"""Divergence (Jacobian-trace) estimators for vector fields ``f: R^D -> R^D``.

The divergence ``div f(x) = tr(df/dx) = sum_i df_i/dx_i`` appears in the
instantaneous change of variables of continuous normalizing flows
(``d log p / dt = -div f``) and in score matching (``tr(ds/dx)``).

Three ways to get it, all for **one example** (callers ``jax.vmap``):

* :func:`exact_divergence`: ``D`` Jacobian-vector products (the full Jacobian),
  exact, cost ``O(D)`` forward passes.
* :func:`hutchinson_divergence`: Hutchinson's (1989) unbiased estimator
  ``E_v[v^T (df/dx) v] = tr(df/dx)`` for probes with ``E[v v^T] = I``, cost one
  Jacobian-vector product (forward mode, ``jax.jvp``) or one vector-Jacobian
  product (reverse mode, ``jax.vjp``) per probe.
* :func:`divergence_and_value`: ``(f(x), div f(x))`` from one linearization, so a
  CNF pays for the forward pass only once.

``x`` is one floating example of shape ``(D,)``; an event of several axes (an
image ``(H, W, C)``) is declared with ``event_ndim``, and a batch ``(B, D)`` is
refused with the advice to ``jax.vmap`` (:func:`divergence_and_value`, the
building block of ODE solvers, accepts any shape unless given ``event_ndim``).
``f`` must return an array of the same shape, and the trace is taken over the
flattened event. Keys may be new-style typed keys (``jax.random.key``) or legacy
``uint32`` keys. Bad arguments raise a ``ValueError`` naming the function and the
argument, at trace time (free under ``jax.jit``).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from likelihood_jax import _checks
from likelihood_jax.types import VectorField

Array = jax.Array

PROBES = ("rademacher", "gaussian")
MODES = ("jvp", "vjp")


def sample_probes(key: Array, shape: tuple[int, ...], probe: str = "rademacher",
                  dtype=jnp.float32) -> Array:
    """Draws random probe vectors ``v`` with ``E[v v^T] = I`` (over the last axes).

    Args:
      key: a PRNG key.
      shape: ``(num_probes,) + event_shape``.
      probe: ``"rademacher"`` (entries +-1 with probability 1/2; the lowest
        variance Hutchinson probe, Hutchinson 1989), ``"gaussian"`` (standard
        normal entries; Girard 1989), or ``"sphere"`` (uniform on the sphere of
        radius ``sqrt(D)`` where ``D`` is the event size; Song et al. 2019).
      dtype: floating dtype of the probes.

    Returns:
      An array of the given shape whose rows (flattened over the event axes)
      satisfy ``E[v v^T] = I``.

    Raises:
      ValueError: for an unknown ``probe``, a ``shape`` that is not a tuple of
        non-negative integers, or a ``dtype`` that is not floating.
    """
    _checks.require_option("sample_probes", "probe", probe, PROBES + ("sphere",))
    if not isinstance(shape, (tuple, list)):
        raise _checks.error("sample_probes", "shape", "a tuple of integers >= 0", repr(shape))
    for n in shape:
        _checks.require_integer_at_least("sample_probes", "every entry of shape", n, 0)
    _checks.require_floating_dtype("sample_probes", "dtype", dtype)
    if probe == "rademacher":
        return jax.random.rademacher(key, shape, dtype=dtype)
    v = jax.random.normal(key, shape, dtype=dtype)
    if probe == "sphere":
        axes = tuple(range(1, len(shape)))
        event_size = 1
        for n in shape[1:]:
            event_size *= n
        norm = jnp.sqrt(jnp.sum(v * v, axis=axes, keepdims=True))
        v = v * (jnp.sqrt(jnp.asarray(event_size, dtype)) / norm)
    return v


def _flat_dot(a: Array, b: Array) -> Array:
    """Per-probe inner products of ``(P,) + event`` arrays -> ``(P,)``."""
    return jnp.sum((a * b).reshape(a.shape[0], -1), axis=-1)


def _basis(x: Array) -> Array:
    """The standard basis of the event space of ``x``: shape ``(D,) + x.shape``."""
    size = x.size
    return jnp.eye(size, dtype=x.dtype).reshape((size,) + x.shape)


def _trace_from_products(products: Callable[[Array], Array], x: Array, key, num_probes: int,
                         probe: str) -> Array:
    """Exact trace (``key=None``) or Hutchinson estimate from a batched product map."""
    if key is None:
        vectors = _basis(x)
    else:
        vectors = sample_probes(key, (num_probes,) + x.shape, probe, x.dtype)
    quad = _flat_dot(vectors, products(vectors))
    return jnp.sum(quad) if key is None else jnp.mean(quad)


def _linearize(function: str, field: str, f: VectorField, x: Array, mode: str):
    """Returns ``(f(x), batched product map)`` for one linearization of ``f`` at ``x``.

    For ``mode="jvp"`` the map is ``V -> (J v for v in V)`` (``jax.linearize``); for
    ``mode="vjp"`` it is ``V -> (v^T J for v in V)`` (``jax.vjp``). Either way
    ``<v, map(v)> = v^T J v``.
    """
    if mode == "jvp":
        y, f_jvp = jax.linearize(f, x)
        _checks.require_field_output(function, field, y, x)
        return y, jax.vmap(f_jvp)
    y, f_vjp = jax.vjp(f, x)
    _checks.require_field_output(function, field, y, x)
    return y, jax.vmap(lambda v: f_vjp(v)[0])


def exact_divergence(f: VectorField, x: Array, *, event_ndim: int = 1) -> Array:
    """Exact divergence ``tr(df/dx)`` of a vector field at one point.

    Computes the full Jacobian with forward-mode autodiff (``jax.jacfwd``: one
    Jacobian-vector product per basis vector, vmapped) and takes its trace:
    ``div f(x) = sum_i e_i^T (df/dx) e_i``.

    Exact (no estimator bias or variance). Cost: ``D`` Jacobian-vector products,
    i.e. about ``D`` forward passes of work and ``O(D^2)`` memory for the
    Jacobian, which is what the stochastic estimators avoid (Chen et al. 2018,
    "Neural ordinary differential equations", compute this trace exactly).

    Args:
      f: vector field mapping an array of shape ``x.shape`` to the same shape.
      x: one example, a floating array of shape ``(D,)``; a batch is refused
        (``jax.vmap`` over it).
      event_ndim: the number of axes of one example (``>= 1``): an event of
        shape ``(H, W, C)`` needs ``event_ndim=3``; the trace is over the
        flattened event.

    Returns:
      A scalar, ``tr(df/dx)`` at ``x``.

    Raises:
      ValueError: if ``x`` does not have ``event_ndim`` axes or is not floating,
        or ``f(x)`` is not shaped like ``x``.
    """
    _checks.require_callable("exact_divergence", "f", f)
    x = _checks.one_example("exact_divergence", x, event_ndim)
    shape = x.shape

    def flat_f(z):
        y = f(z.reshape(shape))
        _checks.require_field_output("exact_divergence", "f", y, x)
        return y.reshape(-1)

    return jnp.trace(jax.jacfwd(flat_f)(x.reshape(-1)))


def hutchinson_divergence(f: VectorField, x: Array, key: Array, *, num_probes: int = 1,
                          probe: str = "rademacher", mode: str = "jvp",
                          event_ndim: int = 1) -> Array:
    """Hutchinson's unbiased stochastic estimate of the divergence ``tr(df/dx)``.

    ``tr(J) ~= (1/M) sum_m v_m^T J v_m`` with ``M = num_probes`` independent probes
    ``v_m`` satisfying ``E[v v^T] = I``, so ``E_v[v^T J v] = tr(J E[v v^T]) = tr(J)``:
    the estimate is **unbiased** (Hutchinson 1989, "A stochastic estimator of the
    trace of the influence matrix for Laplacian smoothing splines"; used for
    CNFs by Grathwohl et al. 2019, FFJORD).

    Variance for one probe, with ``S = (J + J^T)/2``: ``2 ||S||_F^2`` for Gaussian
    probes and ``2 (||S||_F^2 - sum_i S_ii^2)`` for Rademacher probes (never
    larger); both fall as ``1/num_probes``.

    Cost: ``f`` is linearized once and the probes are vmapped, so one probe costs
    one Jacobian-vector product (``mode="jvp"``, forward mode via
    ``jax.linearize``) or one vector-Jacobian product (``mode="vjp"``, reverse
    mode via ``jax.vjp``), each about one to three forward passes.

    Args:
      f: vector field mapping an array of shape ``x.shape`` to the same shape.
      x: one example, a floating array of shape ``(D,)``; a batch ``(B, D)`` is
        refused (``jax.vmap`` over it: the estimate of a flattened batch is
        neither the per-example value nor the batch sum).
      key: PRNG key for the probes (typed or legacy ``uint32``), not ``None``.
      num_probes: number of probes averaged, an integer ``>= 1``.
      probe: ``"rademacher"`` or ``"gaussian"``.
      mode: ``"jvp"`` (forward mode) or ``"vjp"`` (reverse mode).
      event_ndim: the number of axes of one example (``>= 1``), e.g. ``3`` for
        an image ``(H, W, C)``; the trace is over the flattened event.

    Returns:
      A scalar, the divergence estimate.

    Raises:
      ValueError: for an unknown ``probe`` or ``mode``, ``num_probes < 1``, a
        ``None`` key, or an ``x`` that is not one floating example.
    """
    if key is None:
        raise _checks.error("hutchinson_divergence", "key", "a PRNG key "
                            "(divergence_and_value(f, x, None) is the exact trace)", "None")
    return _divergence_and_value("hutchinson_divergence", f, x, key, num_probes, probe, mode,
                                 event_ndim)[1]


def divergence_and_value(f: VectorField, x: Array, key: Array | None = None, *,
                         num_probes: int = 1, probe: str = "rademacher",
                         mode: str = "jvp",
                         event_ndim: int | None = None) -> tuple[Array, Array]:
    """Returns ``(f(x), div f(x))`` from a single linearization of ``f`` at ``x``.

    A continuous normalizing flow needs both the velocity ``f(x)`` and its
    divergence; linearizing once (``jax.linearize`` for ``mode="jvp"``,
    ``jax.vjp`` for ``mode="vjp"``) evaluates ``f`` once and reuses its
    residuals for every product.

    With ``key=None`` the divergence is **exact**: ``sum_i e_i^T J e_i`` over the
    ``D`` basis vectors (cost: one forward pass plus ``D`` vmapped products).
    With a key it is Hutchinson's **unbiased** estimate
    ``(1/M) sum_m v_m^T J v_m`` (Hutchinson 1989; Grathwohl et al. 2019, FFJORD),
    costing one forward pass plus ``num_probes`` products.

    Args:
      f: vector field mapping an array of shape ``x.shape`` to the same shape.
      x: one example, a floating array of shape ``(D,)`` or any event shape (the
        state of an ODE solve): the trace is over the flattened array.
      key: ``None`` for the exact divergence, else a PRNG key for the probes.
      num_probes: number of Hutchinson probes, an integer ``>= 1`` (ignored when
        ``key`` is None).
      probe: ``"rademacher"`` or ``"gaussian"``.
      mode: ``"jvp"`` (forward mode) or ``"vjp"`` (reverse mode).
      event_ndim: ``None`` (default) accepts any shape; an integer requires
        ``x`` to have that many axes (one example: a batch is refused).

    Returns:
      ``(f(x), divergence)``: an array shaped like ``x`` and a scalar.

    Raises:
      ValueError: for an unknown ``probe`` or ``mode``, ``num_probes < 1``, or an
        ``x`` that is not floating (or not of ``event_ndim`` axes).
    """
    return _divergence_and_value("divergence_and_value", f, x, key, num_probes, probe, mode,
                                 event_ndim)


def _divergence_and_value(function: str, f: VectorField, x, key, num_probes: int, probe: str,
                          mode: str, event_ndim: int | None,
                          field: str = "f") -> tuple[Array, Array]:
    """:func:`divergence_and_value`, its errors naming ``function`` (and ``f`` as ``field``)."""
    _checks.require_option(function, "probe", probe, PROBES)
    _checks.require_option(function, "mode", mode, MODES)
    _checks.require_integer_at_least(function, "num_probes", num_probes, 1)
    _checks.require_callable(function, field, f)
    x = _checks.one_example(function, x, event_ndim)
    y, products = _linearize(function, field, f, x, mode)
    return y, _trace_from_products(products, x, key, num_probes, probe)
