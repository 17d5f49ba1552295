r"""Classifier-guided and composed conditional scores: DLSM [P156], compositional SBI [P131].

Two papers, per-example pure functions (callers ``vmap``).

**DLSM** [P156] (Chao, Sun, Cheng, Lo, Chang, Liu, Chang, Chen & Lee 2022, "Denoising likelihood
score matching for conditional score-based data generation", ICLR). Bayes' rule splits
the conditional score of the diffused data ``x_t = alpha_t x + sigma_t eps`` into

    grad log p_t(x_t | y) = grad log p_t(x_t) + grad log p_t(y | x_t),

estimated by an unconditional score ``s_theta(t, x_t)`` and a time-conditioned classifier
``p_phi(y | x_t, t)`` (:func:`guided_score`). Training the classifier by cross-entropy on
noisy inputs (:func:`noisy_cross_entropy`, the baseline) matches class probabilities, not
their input gradients, and the sum can deviate from the true conditional score ("score
mismatch"). The DLSM loss trains the classifier so that the *sum* matches
the denoising target, with the score frozen:

    L_DLSM(phi) = E_{t, x, y, eps} [ lambda(t)/2 |grad_x log p_phi(y | x_t, t)
                                   + sg[s_theta(t, x_t)] - grad log q_t(x_t | x)|^2 ],

``grad log q_t(x_t | x) = -eps / sigma_t`` and ``lambda(t) = sigma_t^2`` (the DSM weighting
of the score model). Its minimizer is ``grad log p_t(y | x_t) = grad log p_t(x_t | y) -
s_theta`` (the same argument as denoising score matching, applied to ``p_t(x_t | y)``).
The paper combines it with cross-entropy, ``L_DLSM + ce_weight * L_CE``, because the
gradient-only loss leaves the classifier's per-``x`` offset free.
:func:`denoising_likelihood_score_matching` returns that sum; the input gradient inside
the loss makes its parameter gradient a double backward pass (``jax.grad`` of
``jax.grad``).

**Compositional score SBI** [P131] (Geffner, Papamakarios & Mnih 2023, "Compositional score
modeling for simulation-based inference", ICML). For i.i.d. observations
``x_1..x_n`` the posterior factorizes as ``p(theta | x_1:n) propto p(theta)^{1-n}
prod_j p(theta | x_j)``, so a score network trained on *single* observations can be
composed at inference time. The diffused posterior of the ``n``-set is not the product of
the diffused single posteriors, so the paper samples a sequence of *bridging* densities
instead:

    p_t^bridge(theta | x_1:n) propto p(theta)^{(1 - n)(T - t)/T} prod_j p_t(theta | x_j),

which is the exact posterior at ``t = 0`` and, when each diffused single posterior is
``N(0, I)`` at ``t = T``, the tractable ``N(0, I / n)`` there. Its score,

    (1 - n) (T - t)/T grad log p(theta) + sum_j s(t, theta | x_j)

(:func:`composed_posterior_score`, ``prior="bridge"``: the diffusion-time correction
scales the undiffused prior's score), is exact for the bridge by construction, and the
bridge is sampled by annealed (unadjusted) Langevin dynamics over a decreasing grid of
``t`` (:func:`annealed_langevin`), the paper's sampler. The naive composition with the
diffused prior, ``(1 - n) grad log p_t(theta) + sum_j s_t``, is also offered
(``prior="diffused"``); neither is the score of the diffused ``n``-observation posterior
for ``0 < t < T`` (both are exact at ``t = 0``), which is why the paper samples the bridge
with Langevin rather than running the reverse SDE with the composed score.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from likelihood_jax import distributions
from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time.diffusion import sample_time
from likelihood_jax.types import TimeField, TimeScoreFn

Array = jax.Array

PRIOR_CORRECTIONS = ("bridge", "diffused")


def _check_label(logits: Array, y) -> None:
    if jnp.ndim(y) != 0:
        raise ValueError(f"label y must be a scalar class index, got shape {jnp.shape(y)}.")
    if logits.ndim != 1:
        raise ValueError(f"logits_fn must return one vector of class logits per example, got "
                         f"shape {logits.shape}.")


def classifier_log_likelihood(logits_fn: TimeField, t, x: Array, y) -> Array:
    """``log p_phi(y | x, t) = log_softmax(logits_fn(t, x))[y]`` for one example.

    Args:
      logits_fn: ``logits_fn(t, x) -> (K,)`` class logits of the time-conditioned classifier.
      t: diffusion time (scalar).
      x: one (noisy) input.
      y: integer class index (scalar).

    Returns:
      A scalar.

    Raises:
      ValueError: when ``y`` is not a scalar or the logits are not a vector.
    """
    logits = logits_fn(t, x)
    _check_label(logits, y)
    return jax.nn.log_softmax(logits)[y]


def classifier_input_gradient(logits_fn: TimeField, t, x: Array, y) -> Array:
    """The likelihood score ``grad_x log p_phi(y | x, t)`` (one reverse pass), shape of ``x``."""
    return jax.grad(lambda z: classifier_log_likelihood(logits_fn, t, z, y))(x)


def guided_score(score_fn: TimeScoreFn, logits_fn: TimeField, y, scale: float = 1.0) -> TimeScoreFn:
    """The conditional score ``s(t, x) + scale * grad_x log p_phi(y | x, t)``.

    Bayes' rule gives ``grad log p_t(x | y)`` at ``scale = 1`` (Song et al. 2021's
    classifier-guided conditional sampling, the construction DLSM trains for);
    ``scale != 1`` is classifier guidance (Dhariwal & Nichol 2021), a tempered target.

    Args:
      score_fn: unconditional score ``s(t, x)``.
      logits_fn: classifier logits ``logits_fn(t, x) -> (K,)``.
      y: the class to condition on (integer scalar).
      scale: guidance scale.

    Returns:
      ``score(t, x)`` for one example, usable by :func:`likelihood_jax.sde.reverse_euler_maruyama`.
    """

    def score(t, x):
        return score_fn(t, x) + scale * classifier_input_gradient(logits_fn, t, x, y)

    return score


def _noisy_input(key: Array, x: Array, sde: sde_lib.SDE, t_min: float, t_sampling: str):
    t_key, x_key = jax.random.split(key)
    t, inv_density = sample_time(t_key, sde, t_min=t_min, sampling=t_sampling, dtype=x.dtype)
    _, sigma = sde.marginal(t)
    x_t, eps = sde.marginal_sample(x_key, x, t)
    return t, inv_density, sigma, x_t, eps


def noisy_cross_entropy(logits_fn: TimeField, x: Array, y, key: Array, *, sde: sde_lib.SDE,
                        t_min: float = 1e-3, t_sampling: str = "uniform") -> Array:
    """Cross-entropy of a time-conditioned classifier on diffused inputs (the baseline).

    ``-log p_phi(y | x_t, t)`` with ``t ~ U(t_min, T)`` (or importance-sampled, see
    :func:`likelihood_jax.continuous_time.diffusion.sample_time`) and ``x_t = alpha_t x + sigma_t
    eps``: the noise-conditional classifier of Song et al. (2021) that DLSM compares
    against. Unbiased single-sample estimate of the time-averaged cross-entropy (with
    importance sampling the ``1/density`` weight keeps it so, up to the factor
    ``T - t_min``). Cost: one classifier evaluation.

    Args:
      logits_fn: ``logits_fn(t, x) -> (K,)``.
      x: one clean example.
      y: its class (integer scalar).
      key: PRNG key.
      sde: the diffusion.
      t_min: smallest time.
      t_sampling: ``"uniform"`` or ``"importance"``.

    Returns:
      A scalar.
    """
    x = jnp.asarray(x)
    t, inv_density, _, x_t, _ = _noisy_input(key, x, sde, t_min, t_sampling)
    weight = inv_density / (sde.T - t_min)
    return -weight * classifier_log_likelihood(logits_fn, t, x_t, y)


def dlsm_objective(logits_fn: TimeField, score: Array, t, x_t: Array, y, eps: Array,
                   sigma) -> Array:
    """The DLSM integrand at one noisy point: ``1/2 |sigma (grad log p_phi + score) + eps|^2``.

    ``= sigma^2 / 2 |grad_x log p_phi(y | x_t, t) + score - grad log q(x_t | x)|^2`` with
    ``grad log q(x_t | x) = -eps / sigma``. ``score`` is the unconditional score at
    ``(t, x_t)``, treated as a constant (wrap it in ``jax.lax.stop_gradient`` when it
    comes from a network that must stay frozen).

    Args:
      logits_fn: classifier logits ``(t, x) -> (K,)``.
      score: ``s_theta(t, x_t)`` (shape of ``x_t``).
      t: time.
      x_t: noisy input.
      y: class.
      eps: the noise that made ``x_t`` from its clean ``x``.
      sigma: ``sigma_t``.

    Returns:
      A scalar.
    """
    grad = classifier_input_gradient(logits_fn, t, x_t, y)
    residual = sigma * (grad + score) + eps
    return 0.5 * jnp.sum(residual * residual)


def denoising_likelihood_score_matching(logits_fn: TimeField, score_fn: TimeScoreFn, x: Array, y,
                                        key: Array, *, sde: sde_lib.SDE,
                                        ce_weight: float = 1.0, t_min: float = 1e-3,
                                        t_sampling: str = "uniform"
                                        ) -> tuple[Array, dict[str, Array]]:
    """The DLSM classifier loss (plus weighted cross-entropy) for one example.

    ``L = (T - t_min) E_t[sigma_t^2 / 2 |grad log p_phi(y | x_t, t) + sg[s(t, x_t)] +
    eps / sigma_t|^2] + ce_weight * E_t[-log p_phi(y | x_t, t)]`` on one shared draw of
    ``(t, eps)`` (see the module docstring; Chao et al. 2022, the DLSM loss combined with
    cross-entropy). The score is frozen (``stop_gradient``). Unbiased for the loss; cost: one
    score evaluation, one classifier forward/backward for the input gradient, and one
    more backward for the parameter gradient (double backprop).

    Args:
      logits_fn: classifier logits ``(t, x) -> (K,)`` (closes over the parameters to train).
      score_fn: unconditional score ``s(t, x)`` (frozen).
      x: one clean example.
      y: its class (integer scalar).
      key: PRNG key.
      sde: the diffusion.
      ce_weight: weight of the cross-entropy term (0: DLSM alone).
      t_min: smallest time.
      t_sampling: ``"uniform"`` or ``"importance"``.

    Returns:
      ``(loss, {"dlsm": ..., "ce": ...})``, scalars.
    """
    x = jnp.asarray(x)
    t, inv_density, sigma, x_t, eps = _noisy_input(key, x, sde, t_min, t_sampling)
    score = jax.lax.stop_gradient(score_fn(t, x_t))
    dlsm = inv_density * dlsm_objective(logits_fn, score, t, x_t, y, eps, sigma)
    ce = -(inv_density / (sde.T - t_min)) * classifier_log_likelihood(logits_fn, t, x_t, y)
    return dlsm + ce_weight * ce, {"dlsm": dlsm, "ce": ce}


# -- Analytic diffused Gaussian mixtures ---------------------------------------------------


def diffused_gaussian_mixture_log_prob(x: Array, weights: Array, means: Array,
                                       covariances: Array, alpha, sigma) -> Array:
    """``log p_t(x)`` of a Gaussian mixture pushed through ``x_t = alpha x + sigma eps``.

    Each component stays Gaussian: ``N(alpha mu_k, alpha^2 Sigma_k + sigma^2 I)``. Exact;
    ``jax.grad`` of it is the true diffused score, and with ``weights`` restricted to one
    class's components, the true diffused class-conditional score.

    Args:
      x: one point ``(D,)``.
      weights: ``(K,)`` mixture weights (need not be normalized over the support chosen;
        they are normalized here).
      means: ``(K, D)``.
      covariances: ``(K, D, D)``.
      alpha: ``alpha_t``.
      sigma: ``sigma_t``.

    Returns:
      A scalar log-density.
    """
    dim = means.shape[-1]
    covs = alpha**2 * covariances + sigma**2 * jnp.eye(dim, dtype=covariances.dtype)
    w = weights / jnp.sum(weights)
    return distributions.gaussian_mixture_log_prob(x, w, alpha * means, covs)


# -- Compositional posterior scores (Geffner et al. 2023) ----------------------------------


def composed_posterior_score(single_score_fn: Callable[[Array, Array, Array], Array],
                             prior_score_fn: TimeScoreFn, t, theta: Array, observations: Array,
                             *, mask: Array | None = None, T: float = 1.0,
                             prior: str = "bridge") -> Array:
    """Composed score of the posterior given ``n`` i.i.d. observations (one ``theta``).

    ``prior="bridge"`` (the paper's): ``sum_j s(t, theta | x_j) + (1 - n)(T - t)/T
    grad log p(theta)``, the exact score of the bridging density
    ``p(theta)^{(1-n)(T-t)/T} prod_j p_t(theta | x_j)``; ``prior_score_fn(t, theta)`` is
    called at ``t = 0`` (the undiffused prior). ``prior="diffused"``: ``sum_j s_t +
    (1 - n) grad log p_t(theta)`` with ``prior_score_fn`` called at ``t``. Both equal the
    true posterior score at ``t = 0`` and are approximations of the diffused
    ``n``-observation posterior score in between (module docstring). Cost: ``n`` single
    score evaluations (``vmap`` over the observations) and one prior score.

    Args:
      single_score_fn: ``s(t, theta, x_j)``: score of the diffused single-observation
        posterior.
      prior_score_fn: ``(t, theta) -> grad log p_t(theta)`` of the (diffused) prior.
      t: time.
      theta: one parameter vector ``(d,)``.
      observations: ``(n, ...)``.
      mask: optional ``(n,)`` booleans/0-1 of the observations to use (padding).
      T: end time of the diffusion.
      prior: ``"bridge"`` or ``"diffused"``.

    Returns:
      The composed score, shape of ``theta``.

    Raises:
      ValueError: unknown ``prior`` or observations without a leading axis.
    """
    if prior not in PRIOR_CORRECTIONS:
        raise ValueError(f"Unknown prior correction {prior!r}; expected one of "
                         f"{PRIOR_CORRECTIONS}.")
    observations = jnp.asarray(observations)
    if observations.ndim < 1:
        raise ValueError("observations must have a leading axis of observations.")
    scores = jax.vmap(lambda xj: single_score_fn(t, theta, xj))(observations)
    if mask is None:
        mask = jnp.ones(observations.shape[:1], theta.dtype)
    mask = jnp.asarray(mask, theta.dtype)
    n = jnp.sum(mask)
    total = jnp.tensordot(mask, scores, axes=1)
    if prior == "bridge":
        weight = (1.0 - n) * (T - t) / T
        return total + weight * prior_score_fn(jnp.zeros_like(t), theta)
    return total + (1.0 - n) * prior_score_fn(t, theta)


def annealed_langevin(score_fn: TimeScoreFn, x: Array, key: Array, *, times: Array,
                      step_sizes: Array, num_steps: int, final_score_step: bool = False
                      ) -> Array:
    """Annealed unadjusted Langevin dynamics over a decreasing grid of diffusion times.

    For each level ``t_l`` (in the given order, ``T`` down to ``t_min``), ``num_steps``
    steps of ``x <- x + delta_l s(t_l, x) + sqrt(2 delta_l) xi``, ``xi ~ N(0, I)``,
    which target the density whose score is ``s(t_l, .)`` (up to the ``O(delta)`` bias of
    the unadjusted chain). Geffner et al. (2023) sample their bridging densities this way
    (Song & Ermon 2019's annealed Langevin). A ``lax.scan`` over levels and steps.

    Args:
      score_fn: ``s(t, x)`` (one example or a batch: the update is elementwise).
      x: the start (e.g. a draw of the ``t = T`` bridge).
      key: PRNG key.
      times: ``(L,)`` times of the levels.
      step_sizes: ``(L,)`` Langevin step sizes ``delta_l``.
      num_steps: steps per level.
      final_score_step: end with the noise-free step ``x + delta_L s(t_L, x)`` (the
        denoising step of Song & Ermon; off by default).

    Returns:
      The final state.
    """
    times = jnp.asarray(times, x.dtype)
    step_sizes = jnp.asarray(step_sizes, x.dtype)
    if times.shape != step_sizes.shape or times.ndim != 1:
        raise ValueError(f"times and step_sizes must be vectors of equal length, got "
                         f"{times.shape} and {step_sizes.shape}.")

    def level(x, inputs):
        t, delta, k = inputs

        def step(x, kk):
            noise = jax.random.normal(kk, x.shape, x.dtype)
            return x + delta * score_fn(t, x) + jnp.sqrt(2.0 * delta) * noise, None

        x, _ = jax.lax.scan(step, x, jax.random.split(k, num_steps))
        return x, None

    keys = jax.random.split(key, times.shape[0])
    x, _ = jax.lax.scan(level, x, (times, step_sizes, keys))
    if final_score_step:
        x = x + step_sizes[-1] * score_fn(times[-1], x)
    return x
