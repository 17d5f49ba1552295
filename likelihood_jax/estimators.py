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

``x`` may have any event shape (``(D,)`` is the common case); ``f`` must return
an array of the same shape, and the trace is taken over the flattened event.
Keys may be new-style typed keys (``jax.random.key``) or legacy ``uint32`` keys.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from likelihood_jax.types import VectorField

Array = jax.Array

PROBES = ("rademacher", "gaussian")
MODES = ("jvp", "vjp")


def _check_option(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {allowed}.")


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
      ValueError: for an unknown ``probe``.
    """
    _check_option("probe", probe, PROBES + ("sphere",))
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


def _check_same_shape(y: Array, x: Array) -> None:
    if jnp.shape(y) != jnp.shape(x):
        raise ValueError(
            f"The vector field must map R^D to R^D: f(x) has shape {jnp.shape(y)} but x "
            f"has shape {jnp.shape(x)}.")


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
        if num_probes < 1:
            raise ValueError(f"num_probes must be >= 1, got {num_probes}.")
        vectors = sample_probes(key, (num_probes,) + x.shape, probe, x.dtype)
    quad = _flat_dot(vectors, products(vectors))
    return jnp.sum(quad) if key is None else jnp.mean(quad)


def _linearize(f: VectorField, x: Array, mode: str):
    """Returns ``(f(x), batched product map)`` for one linearization of ``f`` at ``x``.

    For ``mode="jvp"`` the map is ``V -> (J v for v in V)`` (``jax.linearize``); for
    ``mode="vjp"`` it is ``V -> (v^T J for v in V)`` (``jax.vjp``). Either way
    ``<v, map(v)> = v^T J v``.
    """
    _check_option("mode", mode, MODES)
    if mode == "jvp":
        y, f_jvp = jax.linearize(f, x)
        _check_same_shape(y, x)
        return y, jax.vmap(f_jvp)
    y, f_vjp = jax.vjp(f, x)
    _check_same_shape(y, x)
    return y, jax.vmap(lambda v: f_vjp(v)[0])


def exact_divergence(f: VectorField, x: Array) -> Array:
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
      x: one example, shape ``(D,)`` (any event shape works; the trace is over
        the flattened event).

    Returns:
      A scalar, ``tr(df/dx)`` at ``x``.
    """
    shape = jnp.shape(x)
    x = jnp.asarray(x)

    def flat_f(z):
        y = f(z.reshape(shape))
        _check_same_shape(y, x)
        return y.reshape(-1)

    return jnp.trace(jax.jacfwd(flat_f)(x.reshape(-1)))


def hutchinson_divergence(f: VectorField, x: Array, key: Array, *, num_probes: int = 1,
                          probe: str = "rademacher", mode: str = "jvp") -> Array:
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
      x: one example, shape ``(D,)`` (any event shape works).
      key: PRNG key for the probes (typed or legacy ``uint32``).
      num_probes: number of probes averaged.
      probe: ``"rademacher"`` or ``"gaussian"``.
      mode: ``"jvp"`` (forward mode) or ``"vjp"`` (reverse mode).

    Returns:
      A scalar, the divergence estimate.

    Raises:
      ValueError: for an unknown ``probe`` or ``mode``.
    """
    return divergence_and_value(f, x, key, num_probes=num_probes, probe=probe, mode=mode)[1]


def divergence_and_value(f: VectorField, x: Array, key: Array | None = None, *,
                         num_probes: int = 1, probe: str = "rademacher",
                         mode: str = "jvp") -> tuple[Array, Array]:
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
      x: one example, shape ``(D,)`` (any event shape works).
      key: ``None`` for the exact divergence, else a PRNG key for the probes.
      num_probes: number of Hutchinson probes (ignored when ``key`` is None).
      probe: ``"rademacher"`` or ``"gaussian"``.
      mode: ``"jvp"`` (forward mode) or ``"vjp"`` (reverse mode).

    Returns:
      ``(f(x), divergence)``: an array shaped like ``x`` and a scalar.

    Raises:
      ValueError: for an unknown ``probe`` or ``mode``.
    """
    _check_option("probe", probe, PROBES)
    _check_option("mode", mode, MODES)
    x = jnp.asarray(x)
    y, products = _linearize(f, x, mode)
    return y, _trace_from_products(products, x, key, num_probes, probe)
