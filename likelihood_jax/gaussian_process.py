"""Gaussian processes: kernels, exact and Laplace log marginal likelihoods, the exact predictive.

Kernels are pure functions of their hyperparameters, ``kernel(x1 (N, D), x2 (M, D), *,
lengthscale, variance) -> (N, M)``, so that hyperparameters are learned with ``jax.grad`` of
a log marginal likelihood and an optax optimizer (usually on their logarithms). The
likelihoods take the kernel matrix itself, so any kernel (or a sum of kernels) plugs in.

* :func:`exact_log_marginal_likelihood`: GP regression, ``log N(y; 0, K + sigma^2 I)``
  [P093, P206]; :func:`exact_posterior_predictive`: the posterior of the latent function at
  test points (Rasmussen and Williams 2006, Algorithm 2.1).
* :func:`laplace_log_marginal_likelihood`: binary classification with the logistic link,
  the Laplace approximation at the posterior mode found by Newton's method (Rasmussen and
  Williams 2006, Algorithms 3.1-3.2) [P093]; :func:`laplace_mode` returns that mode.

Shapes and hyperparameters given as Python numbers are checked when a function is called or
traced; values (a kernel matrix that is not positive definite, labels other than 0 and 1)
with ``validate_args=True`` through ``jax.experimental.checkify``, as in
:mod:`likelihood_jax.distributions`. Every error is a ``ValueError`` naming the argument.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


# -- Kernels ------------------------------------------------------------------------------


def _scaled_squared_distances(function: str, x1, x2, lengthscale, variance) -> Array:
    """``|x1_i - x2_j|^2 / lengthscale^2`` (``(N, M)``) after checking the arguments."""
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    _checks.require_rank(function, "x1", x1, 2, "(N, D)")
    _checks.require_rank(function, "x2", x2, 2, "(M, D)")
    _checks.require_shape(function, "x2", x2, (x2.shape[0], x1.shape[1]), "(M, D)")
    _checks.require_floating(function, "x1", x1)
    if jnp.ndim(lengthscale) > 1 or jnp.size(lengthscale) not in (1, x1.shape[1]):
        raise _checks.error(function, "lengthscale", f"a scalar or of shape (D,) = "
                            f"({x1.shape[1]},)", f"shape {jnp.shape(lengthscale)}")
    _checks.require_rank(function, "variance", variance, 0, "()")
    _checks.require_greater(function, "lengthscale", lengthscale)
    _checks.require_greater(function, "variance", variance)
    z1, z2 = x1 / lengthscale, x2 / lengthscale
    return jnp.sum((z1[:, None, :] - z2[None, :, :]) ** 2, axis=-1)


def squared_exponential_kernel(x1, x2, *, lengthscale, variance) -> Array:
    """Squared exponential (RBF) kernel matrix ``k(x1_i, x2_j)``, shape ``(N, M)``.

    ``k(a, b) = variance * exp(-|a - b|^2 / (2 lengthscale^2))`` (a ``(D,)`` lengthscale
    scales each input dimension: automatic relevance determination).

    Args:
      x1: inputs, shape ``(N, D)``, floating.
      x2: inputs, shape ``(M, D)``.
      lengthscale: ``> 0``, a scalar or shape ``(D,)``.
      variance: ``> 0``, a scalar (the kernel's value at ``a = b``).

    Returns:
      The ``(N, M)`` kernel matrix.

    Raises:
      ValueError: for other shapes, or a lengthscale or variance ``<= 0`` given as a number.
    """
    distance2 = _scaled_squared_distances("squared_exponential_kernel", x1, x2, lengthscale,
                                          variance)
    return variance * jnp.exp(-0.5 * distance2)


def matern52_kernel(x1, x2, *, lengthscale, variance) -> Array:
    """Matern-5/2 kernel matrix ``k(x1_i, x2_j)``, shape ``(N, M)``.

    ``k(a, b) = variance (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r)`` with
    ``r = |a - b| / lengthscale`` (Rasmussen and Williams 2006, eq. 4.17). Differentiable in
    the hyperparameters also where ``a = b`` (``r`` is taken as 0 there without a NaN
    gradient).

    Args:
      x1: inputs, shape ``(N, D)``, floating.
      x2: inputs, shape ``(M, D)``.
      lengthscale: ``> 0``, a scalar or shape ``(D,)``.
      variance: ``> 0``, a scalar.

    Returns:
      The ``(N, M)`` kernel matrix.

    Raises:
      ValueError: for other shapes, or a lengthscale or variance ``<= 0`` given as a number.
    """
    distance2 = _scaled_squared_distances("matern52_kernel", x1, x2, lengthscale, variance)
    positive = distance2 > 0
    r = jnp.where(positive, jnp.sqrt(jnp.where(positive, distance2, 1.0)), 0.0)
    root5_r = math.sqrt(5.0) * r
    return variance * (1.0 + root5_r + (5.0 / 3.0) * distance2) * jnp.exp(-root5_r)


# -- Regression ---------------------------------------------------------------------------


def _kernel_matrix_and_targets(function: str, kernel_matrix, y) -> tuple[Array, Array]:
    """``(K, y)`` as arrays after checking ``K (N, N)`` floating and ``y (N,)``."""
    kernel_matrix, y = jnp.asarray(kernel_matrix), jnp.asarray(y)
    _checks.require_rank(function, "kernel_matrix", kernel_matrix, 2, "(N, N)")
    num = kernel_matrix.shape[0]
    _checks.require_shape(function, "kernel_matrix", kernel_matrix, (num, num), "(N, N)")
    _checks.require_floating(function, "kernel_matrix", kernel_matrix)
    _checks.require_shape(function, "y", y, (num,), "(N,)")
    return kernel_matrix, y


def _noisy_cholesky(function: str, kernel_matrix, y, noise_variance,
                    validate_args: bool) -> tuple[Array, Array]:
    """Checks the arguments; returns ``(L, y)`` with ``L L^T = K + noise_variance I``."""
    kernel_matrix, y = _kernel_matrix_and_targets(function, kernel_matrix, y)
    num = y.shape[0]
    _checks.require_rank(function, "noise_variance", noise_variance, 0, "()")
    _checks.require_at_least(function, "noise_variance", noise_variance, 0.0)
    noisy = kernel_matrix + noise_variance * jnp.eye(num, dtype=kernel_matrix.dtype)
    chol = jnp.linalg.cholesky(noisy)
    if validate_args:
        _checks.check_positive_definite(function, "kernel_matrix + noise_variance I", noisy,
                                        chol)
    return chol, y.astype(kernel_matrix.dtype)


def exact_log_marginal_likelihood(kernel_matrix, y, *, noise_variance,
                                  validate_args: bool = False) -> Array:
    r"""Log marginal likelihood of GP regression, ``log N(y; 0, K + sigma^2 I)``.

    With ``L L^T = K + sigma^2 I`` (Cholesky) and ``alpha = L^T \ (L \ y)``:

        log p(y) = -0.5 y^T alpha - sum_i log L_ii - (N/2) log(2 pi)

    (Rasmussen and Williams 2006, Algorithm 2.1). Exact; cost ``O(N^3)``. Differentiable in
    ``kernel_matrix`` and ``noise_variance`` (learn hyperparameters with ``jax.grad``).

    Args:
      kernel_matrix: the prior covariance ``K`` of the latent function at the ``N`` inputs,
        shape ``(N, N)``, symmetric positive semi-definite (``K + sigma^2 I`` must be
        positive definite, else the result is NaN unless ``validate_args``).
      y: targets, shape ``(N,)`` (subtract a mean first for a nonzero prior mean).
      noise_variance: the Gaussian observation noise ``sigma^2 >= 0``, a scalar.
      validate_args: also check that ``K + sigma^2 I`` is symmetric positive definite
        (through ``jax.experimental.checkify``).

    Returns:
      The scalar log marginal likelihood.

    Raises:
      ValueError: for shapes other than those above or a negative ``noise_variance`` given as
        a number; with ``validate_args``, for ``K + sigma^2 I`` not positive definite.
    """
    chol, y = _noisy_cholesky("exact_log_marginal_likelihood", kernel_matrix, y,
                              noise_variance, validate_args)
    z = jax.scipy.linalg.solve_triangular(chol, y, lower=True)
    return (-0.5 * jnp.sum(z * z) - jnp.sum(jnp.log(jnp.diagonal(chol)))
            - y.shape[0] * _HALF_LOG_TWO_PI)


def exact_posterior_predictive(kernel_matrix, y, cross_kernel, test_kernel_diagonal, *,
                               noise_variance, validate_args: bool = False
                               ) -> tuple[Array, Array]:
    """Posterior mean and variance of the latent function at ``M`` test points.

    With ``K`` the training kernel matrix, ``K_* = k(X, X_*)`` and ``L L^T = K + sigma^2 I``:

        mean = K_*^T (K + sigma^2 I)^{-1} y,
        variance = diag k(X_*, X_*) - diag K_*^T (K + sigma^2 I)^{-1} K_*

    (Rasmussen and Williams 2006, eqs. 2.25-2.26 and Algorithm 2.1, through ``L``). Add
    ``noise_variance`` to the variance for the predictive of a noisy observation. Exact.

    Args:
      kernel_matrix: ``K``, shape ``(N, N)`` (as in :func:`exact_log_marginal_likelihood`).
      y: training targets, shape ``(N,)``.
      cross_kernel: ``K_* = k(X, X_*)``, shape ``(N, M)``.
      test_kernel_diagonal: ``k(x_*, x_*)`` of each test point, shape ``(M,)``.
      noise_variance: the observation noise ``sigma^2 >= 0``, a scalar.
      validate_args: also check that ``K + sigma^2 I`` is symmetric positive definite.

    Returns:
      ``(mean, variance)``, each of shape ``(M,)``.

    Raises:
      ValueError: for shapes other than those above or a negative ``noise_variance`` given as
        a number; with ``validate_args``, for ``K + sigma^2 I`` not positive definite.
    """
    function = "exact_posterior_predictive"
    chol, y = _noisy_cholesky(function, kernel_matrix, y, noise_variance, validate_args)
    num = y.shape[0]
    _checks.require_rank(function, "cross_kernel", cross_kernel, 2, "(N, M)")
    num_test = jnp.shape(cross_kernel)[1]
    _checks.require_shape(function, "cross_kernel", cross_kernel, (num, num_test), "(N, M)")
    _checks.require_shape(function, "test_kernel_diagonal", test_kernel_diagonal,
                          (num_test,), "(M,)")
    alpha = jax.scipy.linalg.cho_solve((chol, True), y)
    v = jax.scipy.linalg.solve_triangular(chol, cross_kernel, lower=True)
    return cross_kernel.T @ alpha, test_kernel_diagonal - jnp.sum(v * v, axis=0)


# -- Binary classification: the Laplace approximation ------------------------------------


def _logistic_log_likelihood(f: Array, y: Array) -> Array:
    """``log p(y | f) = sum_i log sigmoid((2 y_i - 1) f_i)`` for labels in {0, 1}."""
    return jnp.sum(jax.nn.log_sigmoid((2.0 * y - 1.0) * f))


def _newton_step(kernel_matrix: Array, y: Array, f: Array) -> tuple[Array, Array, Array]:
    r"""One Newton step of Algorithm 3.1: returns ``(f_new, a, L)`` (``f_new = K a``).

    ``W = pi (1 - pi)`` with ``pi = sigmoid(f)``, ``L L^T = B = I + W^1/2 K W^1/2``,
    ``b = W f + (y - pi)``, ``a = b - W^1/2 L^T \ (L \ (W^1/2 K b))``; ``L`` is
    the factor at the input ``f``.
    """
    pi = jax.nn.sigmoid(f)
    w = pi * (1.0 - pi)
    sqrt_w = jnp.sqrt(w)
    num = f.shape[0]
    b_matrix = jnp.eye(num, dtype=f.dtype) + sqrt_w[:, None] * kernel_matrix * sqrt_w[None, :]
    chol = jnp.linalg.cholesky(b_matrix)
    b = w * f + (y - pi)
    a = b - sqrt_w * jax.scipy.linalg.cho_solve((chol, True), sqrt_w * (kernel_matrix @ b))
    return kernel_matrix @ a, a, chol


def _check_laplace_arguments(function: str, kernel_matrix, y, max_iterations,
                             validate_args: bool) -> tuple[Array, Array]:
    """``(K, y)``, ``y`` in ``K``'s dtype, after the checks of the Laplace functions."""
    kernel_matrix, y = _kernel_matrix_and_targets(function, kernel_matrix, y)
    num = y.shape[0]
    _checks.require_integer_at_least(function, "max_iterations", max_iterations, 1)
    if validate_args:
        _checks.check(function, jnp.all((y == 0) | (y == 1)),
                      "y must hold labels 0 or 1, got min {} and max {}", jnp.min(y), jnp.max(y))
        jitter = 1e-6 * jnp.max(jnp.abs(jnp.diagonal(kernel_matrix)))
        _checks.check_positive_definite(
            function, "kernel_matrix", kernel_matrix,
            jnp.linalg.cholesky(kernel_matrix + jitter * jnp.eye(num, dtype=kernel_matrix.dtype)))
    return kernel_matrix, y.astype(kernel_matrix.dtype)


def _mode(kernel_matrix: Array, y: Array, max_iterations: int,
          tolerance: float | None) -> Array:
    """Newton iterations from ``f = 0`` until ``max_i |f_new_i - f_i| <= tol max(1, |f|_inf)``.

    ``tol`` is ``tolerance``, or ``sqrt(eps)`` of the dtype when None (Newton converges
    quadratically, so the next step would move ``f`` by about ``eps``). Not differentiated
    (the caller stops the gradient and takes one more Newton step).
    """
    if tolerance is None:
        tolerance = math.sqrt(float(jnp.finfo(y.dtype).eps))

    def cond(state):
        step, _, change = state
        return (step < max_iterations) & (change > tolerance)

    def body(state):
        step, f, _ = state
        f_new, _, _ = _newton_step(kernel_matrix, y, f)
        change = jnp.max(jnp.abs(f_new - f)) / jnp.maximum(1.0, jnp.max(jnp.abs(f_new)))
        return step + 1, f_new, change

    f0 = jnp.zeros_like(y)
    _, f, _ = jax.lax.while_loop(cond, body, (0, f0, jnp.asarray(jnp.inf, y.dtype)))
    return f


def _differentiable_mode(kernel_matrix: Array, y: Array, max_iterations: int,
                         tolerance: float | None) -> tuple[Array, Array]:
    """The mode ``f`` and ``a`` (``f = K a``), with the implicit-function gradient in ``K``.

    At the mode the Newton map has zero Jacobian in ``f``, so one Newton step from the mode
    with its gradient stopped carries the exact implicit derivative ``df/dK``.
    """
    f_stopped = jax.lax.stop_gradient(
        _mode(jax.lax.stop_gradient(kernel_matrix), y, max_iterations, tolerance))
    f, a, _ = _newton_step(kernel_matrix, y, f_stopped)
    return f, a


def laplace_mode(kernel_matrix, y, *, max_iterations: int = 100, tolerance: float | None = None,
                 validate_args: bool = False) -> Array:
    """Posterior mode ``f_hat = argmax_f log p(y | f) + log N(f; 0, K)`` (logistic link).

    Newton's method from ``f = 0`` (Rasmussen and Williams 2006, Algorithm 3.1), in a
    ``lax.while_loop`` stopped when no entry of ``f`` moves more than ``tolerance`` (relative to
    ``max(1, max_i |f_i|)``) or after ``max_iterations`` steps; the objective is concave, so
    Newton converges (quadratically near the mode). Differentiable in ``kernel_matrix`` by
    the implicit function theorem.

    Args:
      kernel_matrix: the prior covariance ``K``, shape ``(N, N)``, symmetric positive
        semi-definite.
      y: labels, shape ``(N,)``, each 0 or 1 (any numeric dtype).
      max_iterations: the most Newton steps, an integer ``>= 1``.
      tolerance: stop when ``max_i |f_new_i - f_i| <= tolerance * max(1, max_i |f_i|)``;
        None: ``sqrt(eps)`` of the dtype (``3.5e-4`` in float32, ``1.5e-8`` in float64).
      validate_args: also check that ``y`` holds only 0 and 1 and that ``K`` is symmetric
        positive definite (to a jitter of ``1e-6 max diag K``).

    Returns:
      The mode ``f_hat``, shape ``(N,)``.

    Raises:
      ValueError: for shapes other than those above or ``max_iterations < 1``; with
        ``validate_args``, for labels other than 0 or 1 or a ``K`` that is not positive
        definite.
    """
    kernel_matrix, y = _check_laplace_arguments("laplace_mode", kernel_matrix, y,
                                                max_iterations, validate_args)
    return _differentiable_mode(kernel_matrix, y, max_iterations, tolerance)[0]


def laplace_log_marginal_likelihood(kernel_matrix, y, *, max_iterations: int = 100,
                                    tolerance: float | None = None,
                                    validate_args: bool = False) -> Array:
    """Laplace approximation of the log marginal likelihood of binary GP classification.

    Labels ``y_i`` in {0, 1} with ``p(y_i = 1 | f_i) = sigmoid(f_i)`` and ``f ~ N(0, K)``.
    At the posterior mode ``f_hat = K a`` (:func:`laplace_mode`), with
    ``W = diag(pi (1 - pi))``, ``pi = sigmoid(f_hat)`` and ``L L^T = I + W^1/2 K W^1/2``:

        log q(y) = -0.5 a^T f_hat + log p(y | f_hat) - sum_i log L_ii

    (Rasmussen and Williams 2006, eq. 3.32 and Algorithm 3.1), i.e. the log joint at the
    mode minus half the log-determinant of the Laplace posterior's precision relative to the
    prior. An approximation (exact only for a Gaussian likelihood). Differentiable in
    ``kernel_matrix`` (the mode's dependence through the implicit function theorem), so
    kernel hyperparameters are learned with ``jax.grad``. Cost: ``O(N^3)`` per Newton step.

    Args:
      kernel_matrix: the prior covariance ``K``, shape ``(N, N)`` (as in :func:`laplace_mode`).
      y: labels, shape ``(N,)``, each 0 or 1.
      max_iterations: the most Newton steps of :func:`laplace_mode`.
      tolerance: the stopping tolerance of :func:`laplace_mode`.
      validate_args: check the values as :func:`laplace_mode` does.

    Returns:
      The scalar approximate log marginal likelihood ``log q(y)``.

    Raises:
      ValueError: as :func:`laplace_mode`.
    """
    kernel_matrix, y = _check_laplace_arguments("laplace_log_marginal_likelihood",
                                                kernel_matrix, y, max_iterations, validate_args)
    f, a = _differentiable_mode(kernel_matrix, y, max_iterations, tolerance)
    _, _, chol = _newton_step(kernel_matrix, y, f)
    return (-0.5 * jnp.dot(a, f) + _logistic_log_likelihood(f, y)
            - jnp.sum(jnp.log(jnp.diagonal(chol))))
