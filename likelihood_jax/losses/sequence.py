"""Training objectives of autoregressive sequence models, one per function.

Shapes: ``logits [..., T, V]`` are the model's next-token logits, ``targets
[..., T]`` the tokens they predict (``targets[t]`` given the inputs up to ``t``),
``mask [..., T]`` (optional, default all ones) marks the tokens that count. Every
objective returns **per-token** losses ``[..., T]``, zero where ``mask`` is 0;
:func:`masked_mean` reduces them to per-example values ``[...]`` (a trainer's
``[B]`` loss). Leading dimensions are free, so each works on one example or a
batch.

* :func:`token_cross_entropy`: MLE, ``-log q(y_t | y_<t)``.
* :func:`mixce`: MixCE (Zhang et al. 2023), its data-only approximation of
  ``eta * CE(P, Q) + (1 - eta) * CE(Q, P)``.
* :func:`token_unlikelihood`: MLE plus token-level unlikelihood on the previous
  context tokens (Welleck et al. 2019).
* :func:`sequence_unlikelihood`: unlikelihood of the given candidate tokens of a
  model's own continuation (Welleck et al. 2019; candidates from
  :func:`likelihood_jax.decoding.ngram_repeat_mask`).
* :func:`policy_gradient`: the REINFORCE surrogate with a leave-one-out baseline
  (the policy-gradient part of implicit unlikelihood training, Lagutin et al. 2021).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_MIN_ONE_MINUS_P = 1e-6


def _check(logits, targets, mask):
    if logits.ndim < 2 or logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits [..., T, V] and targets [..., T] do not fit: "
                         f"{logits.shape} vs {targets.shape}")
    if mask is None:
        return jnp.ones(targets.shape, logits.dtype)
    if mask.shape != targets.shape:
        raise ValueError(f"mask shape {mask.shape} differs from targets shape {targets.shape}")
    return mask.astype(logits.dtype)


def _target_log_probs(logits, targets):
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return log_probs, jnp.take_along_axis(log_probs, targets[..., None].astype(jnp.int32),
                                          -1)[..., 0]


def log_one_minus_prob(log_probs: jax.Array) -> jax.Array:
    """``log(1 - p)`` from ``log p``, as ``log(-expm1(log p))``, with ``1 - p >= 1e-6``."""
    return jnp.log(jnp.maximum(-jnp.expm1(log_probs), _MIN_ONE_MINUS_P))


def masked_mean(per_token: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Mean of ``per_token [..., T]`` over the tokens where ``mask`` is 1 -> ``[...]``."""
    if mask is None:
        return jnp.mean(per_token, axis=-1)
    mask = mask.astype(per_token.dtype)
    return jnp.sum(per_token * mask, axis=-1) / jnp.maximum(jnp.sum(mask, axis=-1), 1.0)


def token_cross_entropy(logits: jax.Array, targets: jax.Array,
                        mask: jax.Array | None = None) -> jax.Array:
    """Per-token negative log-likelihood ``-log q(y_t | y_<t)`` (MLE; forward CE with the data)."""
    mask = _check(logits, targets, mask)
    return -_target_log_probs(logits, targets)[1] * mask


def mixce(logits: jax.Array, targets: jax.Array, mask: jax.Array | None = None, *,
          eta: float | jax.Array = 1.0) -> jax.Array:
    """MixCE per token: ``-(eta + (1 - eta) * sg(q_t)) * log q_t``, ``q_t = q(y_t | y_<t)``.

    Zhang, Wu, Irsoy, Lu, Bansal, Dredze & Rosenberg (2023), "MixCE: Training
    autoregressive language models by mixing forward and reverse cross-entropies"
    (ACL 2023, arXiv:2305.16958). The target is
    ``eta * CE(P, Q) + (1 - eta) * CE(Q, P)`` with ``CE(Q, P) = -E_{x~Q} log P(x)``,
    whose gradient needs samples of ``Q`` scored by the unknown ``P``. The paper
    approximates the reverse term from data samples only: the expectation is moved
    from model samples onto data samples and the intractable density factors are
    dropped, leaving a self-reinforcing weight, the model's own probability,
    which its implementation takes per token (stop-gradient ``q_t``). Data tokens
    the model already finds likely are pushed further and unlikely ones less (a
    mode-seeking pull). This function is that per-token surrogate; its gradient
    is ``(eta + (1 - eta) q_t) grad(-log q_t)``.

    ``eta = 1`` is exactly :func:`token_cross_entropy` (MLE); ``eta = 0`` is the
    approximate reverse term alone. The surrogate's value is not a cross-entropy;
    report :func:`token_cross_entropy` as the likelihood metric. Cost: one softmax,
    like MLE.
    """
    mask = _check(logits, targets, mask)
    _, target_log_probs = _target_log_probs(logits, targets)
    weight = eta + (1.0 - eta) * jax.lax.stop_gradient(jnp.exp(target_log_probs))
    return -weight * target_log_probs * mask


def previous_token_candidates(targets: jax.Array, vocab_size: int,
                              mask: jax.Array | None = None, *,
                              window: int | None = None) -> jax.Array:
    """``[..., T, V]`` bool: token ``v`` occurred among the previous targets and is not ``y_t``.

    The negative candidates ``C_t = {y_{t-window}, ..., y_{t-1}} minus {y_t}`` of
    token-level unlikelihood (Welleck et al. 2019), as a set: a token repeated in
    the context counts once. Masked-out positions are never candidates. Cost
    ``O(T^2 V)`` (a ``[T, T] x [T, V]`` product).
    """
    length = targets.shape[-1]
    t, s = jnp.arange(length)[:, None], jnp.arange(length)[None, :]
    earlier = s < t
    if window is not None:
        earlier = earlier & (s >= t - window)
    earlier = earlier.astype(jnp.float32)
    if mask is not None:
        earlier = earlier * mask.astype(jnp.float32)[..., None, :]  # [..., T, T]
    one_hot = jax.nn.one_hot(targets, vocab_size, dtype=jnp.float32)  # [..., T, V]
    seen = jnp.einsum("...ts,...sv->...tv", earlier, one_hot) > 0
    return seen & (one_hot == 0)


def token_unlikelihood(logits: jax.Array, targets: jax.Array, mask: jax.Array | None = None,
                       *, alpha: float | jax.Array = 1.0,
                       window: int | None = None) -> jax.Array:
    """MLE plus token-level unlikelihood on previous context tokens, per token.

    Welleck, Kulikov, Roller, Dinan, Cho & Weston (2019), "Neural text generation
    with unlikelihood training", eq. (4):
    ``-log q(y_t | y_<t) - alpha * sum_{c in C_t} log(1 - q(c | y_<t))`` with the
    candidates ``C_t`` = the distinct earlier targets (within ``window`` if given)
    other than ``y_t`` (:func:`previous_token_candidates`). The unlikelihood term
    pushes down the probability of repeating context tokens. ``alpha = 0`` is
    exactly MLE. Cost: one softmax plus ``O(T^2 V)`` for the candidate sets.
    """
    mask = _check(logits, targets, mask)
    log_probs, target_log_probs = _target_log_probs(logits, targets)
    candidates = previous_token_candidates(targets, logits.shape[-1], mask, window=window)
    unlikelihood = -jnp.sum(jnp.where(candidates, log_one_minus_prob(log_probs), 0.0), -1)
    return (-target_log_probs + alpha * unlikelihood) * mask


def sequence_unlikelihood(logits: jax.Array, tokens: jax.Array,
                          candidate_mask: jax.Array) -> jax.Array:
    """Sequence-level unlikelihood per token: ``-log(1 - q(x_t | x_<t))`` where ``candidate_mask``.

    Welleck et al. (2019), eq. (6)-(7): ``x`` is the model's own continuation of a
    prefix (greedy decoding in the paper), ``logits`` the model's logits of that
    continuation re-computed with gradients (teacher forced on it), and the
    candidates are the tokens of repeated n-grams
    (:func:`likelihood_jax.decoding.ngram_repeat_mask`). Zero where the mask is 0.
    """
    mask = _check(logits, tokens, candidate_mask)
    _, token_log_probs = _target_log_probs(logits, tokens)
    return -log_one_minus_prob(token_log_probs) * jax.lax.stop_gradient(mask)


def policy_gradient(sequence_log_probs: jax.Array, rewards: jax.Array) -> jax.Array:
    """Per-example REINFORCE surrogate ``-(R_i - b_i) * log Q(x_i)``, leave-one-out baseline.

    For samples ``x_1..x_N ~ Q`` with rewards ``R_i``, the baseline ``b_i`` is the
    mean reward of the *other* samples, so it is independent of ``x_i`` and the
    gradient of the mean surrogate is an unbiased estimate of ``-grad E_Q[R]``
    (Williams 1992). In implicit unlikelihood training (Lagutin, Gavrilov &
    Kalaidin 2021) ``R`` penalizes repetition of the model's continuation, e.g.
    ``1 - seq_rep_n``. Needs ``N >= 2``.

    Args:
      sequence_log_probs: ``[N]`` log ``Q(x_i)`` (differentiable).
      rewards: ``[N]`` rewards (no gradient flows through them).
    """
    if sequence_log_probs.ndim != 1 or sequence_log_probs.shape != rewards.shape:
        raise ValueError(f"sequence_log_probs and rewards must both be [N], got "
                         f"{sequence_log_probs.shape} and {rewards.shape}")
    n = rewards.shape[0]
    if n < 2:
        raise ValueError("the leave-one-out baseline needs at least 2 samples")
    rewards = jax.lax.stop_gradient(rewards)
    baseline = (jnp.sum(rewards) - rewards) / (n - 1)
    return -(rewards - baseline) * sequence_log_probs
