"""LogME: the maximum evidence of Bayesian linear regression on fixed features [P204].

You, Liu, Wang & Long (ICML 2021), "LogME: Practical Assessment of Pre-trained Models for
Transfer Learning" (arXiv:2102.11005), used by Bassignana et al. (2022), "Evidence >
Intuition: Transferability Estimation for Encoder Selection" [P204] to rank encoders. For
features ``F (N, D)`` and one target ``y (N,)`` the model is

    w ~ N(0, I / alpha),    y | F, w ~ N(F w, I / beta),

so ``y ~ N(0, F F^T / alpha + I / beta)`` and, with ``A = alpha I + beta F^T F`` and the
posterior mean ``m = beta A^{-1} F^T y`` (Bishop 2006, eq. 3.86),

    log p(y | F, alpha, beta) = D/2 log alpha + N/2 log beta - N/2 log(2 pi)
                                - beta/2 ||y - F m||^2 - alpha/2 ||m||^2 - 1/2 log|A|.

Everything goes through one eigendecomposition ``F^T F = V diag(s) V^T`` (``O(N D^2 +
D^3)``): ``log|A| = sum_i log(alpha + beta s_i)`` and ``m = V (beta t / (alpha + beta s))``
with ``t = V^T F^T y``; each evaluation is then ``O(N D)``. The evidence is maximized by
MacKay's fixed point (LogME's Algorithm 1):

    gamma = sum_i beta s_i / (alpha + beta s_i),
    alpha <- gamma / ||m||^2,    beta <- (N - gamma) / ||y - F m||^2,

iterated in a ``lax.while_loop`` from ``alpha = beta = 1`` until neither ``log alpha`` nor
``log beta`` moves by more than ``tol`` (default ``1e-4``, a relative change of 0.01%; the
reference code stops at a 1% change of ``alpha / beta`` or after 11 steps), or after
``max_iterations``. ``alpha`` and ``beta`` are kept in ``[1e-12, 1e12]`` (an uninformative
feature set drives ``alpha`` to infinity: the evidence is then that of ``w = 0``). Unlike
the reference code, which evaluates the evidence with the mean ``m`` of the previous step,
the value returned is the exact evidence at the final ``(alpha, beta)``. LogME of a
labelled set is the mean over classes ``c`` of the maximum evidence of the indicator
``y = [labels == c]``, divided by ``N``. Zero columns of ``F`` change nothing (they add a
zero eigenvalue, whose terms cancel), so extractors of different widths can be padded to
one width and compiled once.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import _checks

Array = jax.Array

#: The range ``alpha`` and ``beta`` are kept in during the fixed-point iteration.
PRECISION_RANGE = (1e-12, 1e12)


def _spectrum(features: Array) -> tuple[Array, Array]:
    """``(s, V)``: eigenvalues (clipped at 0) and eigenvectors of ``F^T F``."""
    s, v = jnp.linalg.eigh(features.T @ features)
    return jnp.maximum(s, 0.0), v


def _evidence(features, y, s, v, t, alpha, beta) -> tuple[Array, Array, Array]:
    """``(log p(y | F, alpha, beta), ||m||^2, ||y - F m||^2)`` from the spectrum.

    Batched over targets: ``y (N, C)``, ``t = V^T F^T y (D, C)``, ``alpha``, ``beta`` ``(C,)``.
    """
    n, d = features.shape
    m = v @ (beta * t / (alpha + beta * s[:, None]))  # (D, C)
    m2 = jnp.sum(m * m, axis=0)
    r2 = jnp.sum(jnp.square(y - features @ m), axis=0)
    log_evidence = (0.5 * d * jnp.log(alpha) + 0.5 * n * jnp.log(beta)
                    - 0.5 * n * jnp.log(2 * jnp.pi) - 0.5 * beta * r2 - 0.5 * alpha * m2
                    - 0.5 * jnp.sum(jnp.log(alpha + beta * s[:, None]), axis=0))
    return log_evidence, m2, r2


def _check_target(function: str, features, y) -> tuple[Array, Array]:
    """``features (N, D)`` and ``y (N,)`` as floating arrays of one dtype."""
    features, y = jnp.asarray(features), jnp.asarray(y)
    _checks.require_rank(function, "features", features, 2, "(N, D)")
    _checks.require_floating(function, "features", features)
    _checks.require_shape(function, "y", y, features.shape[:1], "(N,)")
    return features, y.astype(features.dtype)


def linear_regression_log_evidence(features, y, alpha, beta) -> Array:
    """``log p(y | F, alpha, beta) / N`` of Bayesian linear regression (module docstring).

    Equals ``log N(y; 0, F F^T / alpha + I / beta) / N``, computed in ``O(N D^2 + D^3)``.

    Args:
      features: ``(N, D)`` floating features ``F``.
      y: ``(N,)`` real targets.
      alpha: prior precision of the weights, ``> 0`` (scalar).
      beta: noise precision, ``> 0`` (scalar).

    Returns:
      The scalar log evidence per example.

    Raises:
      ValueError: for other shapes, non-floating features, or a concrete ``alpha`` or
        ``beta`` that is not positive.
    """
    function = "linear_regression_log_evidence"
    features, y = _check_target(function, features, y)
    _checks.require_greater(function, "alpha", alpha)
    _checks.require_greater(function, "beta", beta)
    return _log_evidence_at(features, y, jnp.asarray(alpha, features.dtype),
                            jnp.asarray(beta, features.dtype))


@jax.jit
def _log_evidence_at(features, y, alpha, beta) -> Array:
    """:func:`linear_regression_log_evidence` after its checks (compiled once per shape)."""
    s, v = _spectrum(features)
    y = y[:, None]
    log_evidence, _, _ = _evidence(features, y, s, v, v.T @ (features.T @ y),
                                   jnp.reshape(alpha, (1,)), jnp.reshape(beta, (1,)))
    return log_evidence[0] / features.shape[0]


@functools.partial(jax.jit, static_argnames=("tol", "max_iterations"))
def _fixed_point(features, y, tol, max_iterations):
    """MacKay's fixed point for targets ``y (N, C)`` at once (one while loop, no vmap).

    Returns ``(evidence / N, alpha, beta)``, each ``(C,)``, and the iterations (scalar: the
    loop runs until every target has converged or the cap is reached).
    """
    n = features.shape[0]
    s, v = _spectrum(features)
    t = v.T @ (features.T @ y)
    low, high = PRECISION_RANGE
    tiny = jnp.finfo(features.dtype).tiny

    def cond(state):
        _, _, i, change = state
        return (i < max_iterations) & (change > tol)

    def body(state):
        alpha, beta, i, _ = state
        _, m2, r2 = _evidence(features, y, s, v, t, alpha, beta)
        gamma = jnp.sum(beta * s[:, None] / (alpha + beta * s[:, None]), axis=0)
        new_alpha = jnp.clip(gamma / jnp.maximum(m2, tiny), low, high)
        new_beta = jnp.clip((n - gamma) / jnp.maximum(r2, tiny), low, high)
        change = jnp.max(jnp.maximum(jnp.abs(jnp.log(new_alpha / alpha)),
                                     jnp.abs(jnp.log(new_beta / beta))))
        return new_alpha, new_beta, i + 1, change

    ones = jnp.ones(y.shape[1], features.dtype)
    alpha, beta, iterations, _ = jax.lax.while_loop(
        cond, body, (ones, ones, jnp.zeros((), jnp.int32), jnp.asarray(jnp.inf, features.dtype)))
    log_evidence, _, _ = _evidence(features, y, s, v, t, alpha, beta)
    return log_evidence / n, alpha, beta, iterations


def _check_iteration(function: str, tol, max_iterations) -> None:
    _checks.require_greater(function, "tol", tol)
    _checks.require_integer_at_least(function, "max_iterations", max_iterations, 1)


def maximize_linear_regression_evidence(features, y, *, tol: float = 1e-4,
                                        max_iterations: int = 100
                                        ) -> tuple[Array, Array, Array, Array]:
    """The maximum over ``(alpha, beta)`` of :func:`linear_regression_log_evidence`.

    MacKay's fixed point from ``alpha = beta = 1`` (module docstring); jit-compatible.

    Args:
      features: ``(N, D)`` floating features ``F``.
      y: ``(N,)`` real targets.
      tol: stop when neither ``log alpha`` nor ``log beta`` moves by more than this, a
        Python number ``> 0``.
      max_iterations: the cap on fixed-point steps, an integer ``>= 1``.

    Returns:
      ``(log_evidence / N, alpha, beta, num_iterations)``, scalars.

    Raises:
      ValueError: for other shapes, non-floating features, ``tol <= 0`` or
        ``max_iterations < 1``.
    """
    function = "maximize_linear_regression_evidence"
    features, y = _check_target(function, features, y)
    _check_iteration(function, tol, max_iterations)
    value, alpha, beta, iterations = _fixed_point(features, y[:, None], float(tol),
                                                  int(max_iterations))
    return value[0], alpha[0], beta[0], iterations


def _class_count(function: str, labels, num_classes) -> int:
    """The number of classes (``num_classes``, else ``max(labels) + 1`` of concrete labels)."""
    if num_classes is None:
        if _checks.is_traced(labels):
            raise _checks.error(function, "num_classes", "given (an integer >= 2) when labels "
                                "are traced, e.g. under jax.jit", "None")
        num_classes = int(np.max(np.asarray(labels))) + 1 if labels.size else 0
    else:
        _checks.require_integer_at_least(function, "num_classes", num_classes, 2)
    return int(num_classes)


def _check_labels(function: str, labels, num_classes: int, validate_args: bool) -> None:
    """Every class of ``[0, num_classes)`` occurs, nothing else, at least two classes."""
    concrete = None if _checks.is_traced(labels) else np.asarray(labels)
    if concrete is not None:
        present = np.unique(concrete)
        if present.size < 2:
            raise _checks.error(function, "labels", "of at least 2 classes",
                                f"{present.size} class(es)")
        if present[0] < 0 or present[-1] >= num_classes or present.size != num_classes:
            raise _checks.error(function, "labels", f"every class of 0..{num_classes - 1} "
                                "(each present, none other)", f"classes {present.tolist()}")
    elif validate_args:
        _checks.check_in_range(function, "labels", labels, 0, num_classes)
        counts = jnp.zeros(num_classes, jnp.int32).at[labels].add(1)
        _checks.check(function, jnp.all(counts > 0),
                      "labels must hold every class, got {} absent", jnp.sum(counts == 0))


def logme(features, labels, *, num_classes: int | None = None, tol: float = 1e-4,
          max_iterations: int = 100, validate_args: bool = False) -> Array:
    """LogME (You et al. 2021): the mean over classes of the maximum evidence per example.

        LogME(F, labels) = (1 / C) sum_c max_{alpha, beta} log p(y_c | F, alpha, beta) / N,

    ``y_c = [labels == c]``, by MacKay's fixed point (module docstring), one
    eigendecomposition of ``F^T F`` shared by the classes; higher is better (the features
    explain the labels with a simpler linear model). Jit-compatible when ``num_classes``
    is given. Called on concrete labels it checks them eagerly, always; under a
    transformation only with ``validate_args=True`` (``jax.experimental.checkify``).

    Args:
      features: ``(N, D)`` floating features.
      labels: ``(N,)`` integer class labels in ``[0, C)``, every class present, ``C >= 2``.
      num_classes: ``C``, an integer ``>= 2``; ``None`` reads ``max(labels) + 1`` from
        concrete labels (required under ``jax.jit``).
      tol: the fixed point's tolerance on ``|Delta log alpha|`` and ``|Delta log beta|``,
        a Python number ``> 0`` (static under ``jax.jit``).
      max_iterations: the cap on fixed-point steps per class, an integer ``>= 1``.
      validate_args: check the labels also when traced (see above).

    Returns:
      The scalar LogME.

    Raises:
      ValueError: for other shapes, non-floating features, non-integer labels, one class
        only, a class absent or out of range, or bad ``num_classes``, ``tol`` or
        ``max_iterations``.
    """
    function = "logme"
    features, labels = jnp.asarray(features), jnp.asarray(labels)
    _checks.require_labelled_rows(function, "features", features, labels)
    _check_iteration(function, tol, max_iterations)
    num_classes = _class_count(function, labels, num_classes)
    _check_labels(function, labels, num_classes, validate_args)
    targets = jax.nn.one_hot(labels, num_classes, dtype=features.dtype)  # (N, C)
    return jnp.mean(_fixed_point(features, targets, float(tol), int(max_iterations))[0])
