"""Gaussian naive Bayes (generative) against logistic regression (discriminative) [P094].

Zheng, Wu, Bao, Cao, Li & Zhu (ICML 2023), "Revisiting Discriminative vs. Generative
Classifiers: Theory and Implications": on frozen features, the multiclass naive Bayes
classifier fitted by maximum likelihood reaches its asymptotic error with ``O(log D)``
samples, logistic regression with ``O(D)`` (after Ng & Jordan 2001), so naive Bayes wins at
small ``n`` and logistic regression, whose asymptotic error is never larger, wins at
large ``n`` when the naive Bayes assumptions fail.

Both fits take per-example ``weights`` (``0``/``1`` masks select a training subset), so
one compiled program fits every subset size of a learning curve under ``jax.vmap``.

* :func:`gaussian_naive_bayes_fit`: the closed-form weighted MLE of
  ``p(x, y) = pi_y prod_d N(x_d; mu_yd, s_yd^2)`` (per-class variances, as scikit-learn's
  ``GaussianNB``) or with ``shared_variance=True`` one pooled variance per feature
  ``s_d^2`` (then ``log p(y | x)`` is linear in ``x``: the same hypothesis class as
  logistic regression, Ng & Jordan's continuous-feature case).
* :func:`gaussian_naive_bayes_log_joint`: ``log pi_y + sum_d log N(x_d; mu_yd, s_yd^2)``.
* :func:`logistic_regression_fit`: multinomial logistic regression, weighted mean
  cross-entropy plus ``l2 / 2 ||W||^2`` (intercept not penalized), by L-BFGS (``optax``)
  for a fixed number of steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from likelihood_jax import _checks

Array = jax.Array


def _check_data(function: str, x, y, num_classes, weights) -> tuple[Array, Array, Array]:
    """``x (N, D)`` floating, ``y (N,)`` integer labels, ``weights (N,)`` (ones by default)."""
    x = jnp.asarray(x)
    _checks.require_rank(function, "x", x, 2, "(N, D)")
    _checks.require_floating(function, "x", x)
    _checks.require_shape(function, "y", y, x.shape[:1], "(N,)")
    _checks.require_integer(function, "y", y)
    _checks.require_integer_at_least(function, "num_classes", num_classes, 1)
    labels = _checks._concrete(y)
    if labels is not None and labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise _checks.error(function, "y", f"labels in [0, {num_classes})",
                            f"min {labels.min()} and max {labels.max()}")
    if weights is None:
        weights = jnp.ones(x.shape[0], x.dtype)
    _checks.require_shape(function, "weights", weights, x.shape[:1], "(N,)")
    _checks.require_at_least(function, "weights", weights, 0.0)
    return x, jnp.asarray(y), jnp.asarray(weights, x.dtype)


def gaussian_naive_bayes_fit(x: Array, y: Array, num_classes: int, *,
                             weights: Array | None = None, shared_variance: bool = False,
                             var_smoothing: float = 1e-9) -> tuple[Array, Array, Array]:
    """Weighted maximum-likelihood Gaussian naive Bayes [P094].

    With ``r_nc = w_n [y_n = c]`` and ``N_c = sum_n r_nc``: ``pi_c = N_c / sum_c N_c``,
    ``mu_cd = sum_n r_nc x_nd / N_c`` and ``s_cd^2 = sum_n r_nc (x_nd - mu_cd)^2 / N_c``
    (or, shared, ``s_d^2 = sum_c N_c s_cd^2 / sum_c N_c``), each the argmax of the
    weighted joint log-likelihood ``sum_n w_n log p(x_n, y_n)``. Like scikit-learn's
    ``GaussianNB``, ``var_smoothing * max_d Var_w(x_d)`` is added to every variance. A class
    with zero weight gets ``pi_c = 0`` (``log pi_c = -inf``: never predicted), mean 0 and
    the smoothing variance. Cost ``O(N C D)``.

    Args:
      x: features, shape ``(N, D)``.
      y: integer labels in ``[0, num_classes)``, shape ``(N,)``.
      num_classes: ``C``.
      weights: non-negative example weights ``(N,)`` (default ones).
      shared_variance: one variance per feature pooled over the classes.
      var_smoothing: the fraction of the largest feature variance added to every variance.

    Returns:
      ``(log_priors (C,), means (C, D), variances (C, D))``.
    """
    x, y, w = _check_data("gaussian_naive_bayes_fit", x, y, num_classes, weights)
    _checks.require_at_least("gaussian_naive_bayes_fit", "var_smoothing", var_smoothing, 0.0)
    r = jax.nn.one_hot(y, num_classes, dtype=x.dtype) * w[:, None]  # (N, C)
    counts = jnp.sum(r, axis=0)
    safe = jnp.maximum(counts, jnp.finfo(x.dtype).tiny)[:, None]
    overall_mean = (w @ x) / jnp.sum(w)
    centered = x - overall_mean  # moments about the overall mean lose less to rounding
    overall_var = (w @ centered**2) / jnp.sum(w)
    shifted_means = (r.T @ centered) / safe
    variances = jnp.maximum((r.T @ centered**2) / safe - shifted_means**2, 0.0)
    means = shifted_means + overall_mean
    if shared_variance:
        pooled = jnp.sum(counts[:, None] * variances, axis=0) / jnp.sum(counts)
        variances = jnp.broadcast_to(pooled, variances.shape)
    variances = variances + var_smoothing * jnp.max(overall_var)
    log_priors = jnp.log(counts) - jnp.log(jnp.sum(counts))
    return log_priors, means, variances


def gaussian_naive_bayes_log_joint(x: Array, log_priors: Array, means: Array,
                                   variances: Array) -> Array:
    """``log p(x_n, y = c) = log pi_c + sum_d log N(x_nd; mu_cd, s_cd^2)``: ``(N, C)`` [P094].

    ``log p(y | x)`` is this minus its ``logsumexp`` over classes; the prediction is its
    argmax (scikit-learn's ``GaussianNB._joint_log_likelihood``).
    """
    x = jnp.asarray(x)
    _checks.require_rank("gaussian_naive_bayes_log_joint", "x", x, 2, "(N, D)")
    _checks.require_rank("gaussian_naive_bayes_log_joint", "means", means, 2, "(C, D)")
    _checks.require_shape("gaussian_naive_bayes_log_joint", "variances", variances,
                          jnp.shape(means), "(C, D)")
    _checks.require_shape("gaussian_naive_bayes_log_joint", "log_priors", log_priors,
                          jnp.shape(means)[:1], "(C,)")
    if x.shape[1] != jnp.shape(means)[1]:
        raise _checks.error("gaussian_naive_bayes_log_joint", "x", f"of shape (N, D) with D = "
                            f"{jnp.shape(means)[1]} (the means' features)", f"shape {x.shape}")
    log_norm = -0.5 * jnp.sum(jnp.log(2.0 * jnp.pi * variances), axis=1)  # (C,)
    quad = -0.5 * jnp.sum((x[:, None, :] - means[None]) ** 2 / variances[None], axis=2)
    return log_priors + log_norm + quad


def logistic_regression_fit(x: Array, y: Array, num_classes: int, *,
                            weights: Array | None = None, l2: float = 1e-3,
                            num_steps: int = 100) -> tuple[Array, Array]:
    """Multinomial logistic regression by L-BFGS [P094] (the discriminative baseline).

    Minimizes ``sum_n w_n CE(x_n W + b, y_n) / sum_n w_n + (l2 / 2) ||W||_F^2`` (convex;
    ``l2 > 0`` makes it strictly convex and bounded below on separable data) with
    ``optax.lbfgs`` (zoom line search) for ``num_steps`` steps from zero, inside one
    ``lax.scan``. Equals scikit-learn's ``LogisticRegression(C=1 / (l2 * sum_n w_n))``.

    Args:
      x: features ``(N, D)``.
      y: integer labels in ``[0, num_classes)``, shape ``(N,)``.
      num_classes: ``C``.
      weights: non-negative example weights ``(N,)`` (default ones).
      l2: the ridge coefficient (``> 0``).
      num_steps: L-BFGS iterations.

    Returns:
      ``(W (D, C), b (C,))``; the logits are ``x @ W + b``.
    """
    x, y, w = _check_data("logistic_regression_fit", x, y, num_classes, weights)
    _checks.require_greater("logistic_regression_fit", "l2", l2)
    _checks.require_integer_at_least("logistic_regression_fit", "num_steps", num_steps, 1)
    targets = jax.nn.one_hot(y, num_classes, dtype=x.dtype)
    total = jnp.sum(w)

    def objective(params):
        kernel, bias = params
        ce = optax.softmax_cross_entropy(x @ kernel + bias, targets)
        return jnp.sum(w * ce) / total + 0.5 * l2 * jnp.sum(kernel**2)

    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def step(carry, _):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = solver.update(grad, state, params, value=value, grad=grad,
                                       value_fn=objective)
        return (optax.apply_updates(params, updates), state), None

    params = (jnp.zeros((x.shape[1], num_classes), x.dtype), jnp.zeros(num_classes, x.dtype))
    (params, _), _ = jax.lax.scan(step, (params, solver.init(params)), length=num_steps)
    return params


def classification_error(scores: Array, y: Array, weights: Array | None = None) -> Array:
    """Weighted fraction of rows whose ``argmax`` of ``scores (N, C)`` differs from ``y``."""
    wrong = (jnp.argmax(scores, axis=-1) != y).astype(jnp.float32)
    if weights is None:
        return jnp.mean(wrong)
    return jnp.sum(weights * wrong) / jnp.sum(weights)
