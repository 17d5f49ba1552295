"""Knowledge distillation for classifiers and language models: per-token soft-target losses.

* Hinton, Vinyals & Dean (2015), "Distilling the knowledge in a neural network"
  (arXiv:1503.02531) [P125]: the student matches the teacher's *tempered*
  distribution ``p = softmax(v / T)`` with its own ``q = softmax(z / T)``; the soft
  term is scaled by ``T^2`` so that its gradient magnitude does not shrink as
  ``1 / T^2`` when ``T`` changes, and is mixed with the ordinary hard-label
  cross-entropy at ``T = 1``. An ensemble teacher's soft targets are the
  arithmetic mean of the members' tempered probabilities.
* Liu, Shen & Lapata (2021), "Noisy self-knowledge distillation for text
  summarization" (NAACL 2021, arXiv:2009.07032) [P007]: a teacher of the *same*
  size as the student (self-distillation), ``(1 - alpha) * NLL(y) + alpha *
  KL(p_teacher || q_student)`` at temperature 1, where noise is injected into the
  teacher (dropout when it produces the soft targets) and into the student's
  input (token perturbation) while the targets stay clean.

All functions take per-token logits ``[..., T, V]``, integer targets ``[..., T]``
and an optional 0/1 mask ``[..., T]``, and return per-token losses ``[..., T]``
(zero where masked); callers average them (e.g.
:func:`likelihood_jax.losses.sequence.masked_mean`). Teacher inputs are log
probabilities under ``stop_gradient``: the teacher is never trained by these
losses.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax.losses.sequence import _check, token_cross_entropy


def _check_temperature(temperature):
    if isinstance(temperature, (int, float)) and temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")


def _check_alpha(alpha):
    if isinstance(alpha, (int, float)) and not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha (the soft-target weight) must lie in [0, 1], got {alpha}")


def tempered_log_softmax(logits: jax.Array, temperature: float | jax.Array = 1.0) -> jax.Array:
    """``log softmax(logits / T)`` over the last axis.

    Args:
      logits: ``[..., V]`` logits.
      temperature: ``T > 0``; ``T > 1`` softens the distribution.

    Returns:
      ``[..., V]`` log-probabilities.
    """
    _check_temperature(temperature)
    return jax.nn.log_softmax(logits / temperature, axis=-1)


def ensemble_log_probs(member_logits: jax.Array, temperature: float | jax.Array = 1.0
                       ) -> jax.Array:
    """Log of the ensemble's mean tempered probability, ``log (1/M) sum_m softmax(z_m / T)``.

    Hinton et al. (2015) average the members' predicted *probabilities* (not their
    logits). Computed with ``logsumexp`` for stability.

    Args:
      member_logits: ``[M, ..., V]`` logits of ``M`` ensemble members.
      temperature: ``T > 0`` applied to every member before averaging.

    Returns:
      ``[..., V]`` log-probabilities of the averaged distribution.

    Raises:
      ValueError: if ``member_logits`` has fewer than two axes.
    """
    if member_logits.ndim < 2:
        raise ValueError(f"member_logits must be [M, ..., V], got shape {member_logits.shape}")
    log_probs = tempered_log_softmax(member_logits, temperature)
    return jax.nn.logsumexp(log_probs, axis=0) - jnp.log(member_logits.shape[0])


def soft_cross_entropy(student_logits: jax.Array, teacher_log_probs: jax.Array,
                       mask: jax.Array | None = None, *,
                       temperature: float | jax.Array = 1.0) -> jax.Array:
    """Per-token ``KL(p || q_T)`` with ``p = exp(teacher_log_probs)``, ``q_T = softmax(z / T)``.

    This is the soft cross-entropy ``-sum_v p_v log q_T,v`` minus the teacher's
    entropy (a constant in the student), so its gradient with respect to the
    student logits is that of the cross-entropy: ``(q_T - p) / T`` (Hinton et al.,
    2015, eq. 2), and it is 0 when the student matches the teacher.

    Args:
      student_logits: ``[..., T, V]`` student logits (untempered).
      teacher_log_probs: ``[..., T, V]`` the teacher's tempered log-probabilities
        (e.g. :func:`tempered_log_softmax` or :func:`ensemble_log_probs` at the same
        ``temperature``); a stop-gradient is applied.
      mask: optional ``[..., T]`` 0/1 weights.
      temperature: ``T > 0`` applied to the student.

    Returns:
      ``[..., T]`` KL divergences in nats (0 where masked).

    Raises:
      ValueError: on mismatched shapes or a non-positive temperature.
    """
    if teacher_log_probs.shape != student_logits.shape:
        raise ValueError(f"teacher_log_probs {teacher_log_probs.shape} and student_logits "
                         f"{student_logits.shape} must have the same shape")
    mask = _check(student_logits, jnp.zeros(student_logits.shape[:-1], jnp.int32), mask)
    log_p = jax.lax.stop_gradient(teacher_log_probs)
    log_q = tempered_log_softmax(student_logits, temperature)
    p = jnp.exp(log_p)
    kl = jnp.sum(jnp.where(p > 0, p * (log_p - log_q), 0.0), axis=-1)
    return kl * mask


def knowledge_distillation(student_logits: jax.Array, teacher_log_probs: jax.Array,
                           targets: jax.Array, mask: jax.Array | None = None, *,
                           temperature: float | jax.Array = 1.0,
                           alpha: float | jax.Array = 0.5) -> jax.Array:
    """Hinton et al. (2015) KD per token: ``alpha T^2 KL(p_T || q_T) + (1 - alpha) CE(y, q_1)``.

    ``p_T`` is the teacher's tempered distribution (``teacher_log_probs``, already at
    temperature ``T``), ``q_T = softmax(z / T)`` the student's at the same
    temperature, ``q_1 = softmax(z)`` the student's ordinary distribution scored on
    the hard label ``y``. The soft term is multiplied by ``T^2`` as the paper
    prescribes, so that its gradient ``T (q_T - p_T)`` keeps its scale as ``T`` varies
    (for large ``T`` and zero-mean logits it approaches ``(z - v) / N``: logit
    matching). ``alpha = 0`` is exactly :func:`token_cross_entropy` (MLE) in value and
    gradient; ``alpha = 1`` trains on the soft targets alone. Cost: two softmaxes
    of the student per token, plus the teacher's forward pass (by the caller).

    Args:
      student_logits: ``[..., T, V]`` student logits.
      teacher_log_probs: ``[..., T, V]`` tempered teacher log-probabilities.
      targets: ``[..., T]`` hard labels.
      mask: optional ``[..., T]`` 0/1 weights.
      temperature: ``T > 0``.
      alpha: weight of the soft term, in ``[0, 1]``.

    Returns:
      ``[..., T]`` per-token losses.

    Raises:
      ValueError: on mismatched shapes, ``T <= 0`` or ``alpha`` outside ``[0, 1]``.
    """
    _check_alpha(alpha)
    hard = token_cross_entropy(student_logits, targets, mask)
    soft = soft_cross_entropy(student_logits, teacher_log_probs, mask, temperature=temperature)
    return alpha * temperature ** 2 * soft + (1.0 - alpha) * hard


def noisy_self_distillation(student_logits: jax.Array, teacher_log_probs: jax.Array,
                            targets: jax.Array, mask: jax.Array | None = None, *,
                            alpha: float | jax.Array = 0.5) -> jax.Array:
    """Liu et al. (2021) self-KD per token: ``(1 - alpha) NLL(y) + alpha KL(p_teacher || q)``.

    The objective at temperature 1 (no ``T^2`` factor); what makes it "noisy" is
    how the caller produces its inputs: ``teacher_log_probs`` come from a teacher
    of the student's own size run with noise (dropout, e.g.
    :func:`embedding_dropout`), and ``student_logits`` from the student reading a
    perturbed input (e.g. :func:`perturb_tokens`), while ``targets`` stay the
    clean references. ``alpha = 0`` is exactly MLE.

    Args:
      student_logits: ``[..., T, V]`` student logits.
      teacher_log_probs: ``[..., T, V]`` teacher log-probabilities (temperature 1).
      targets: ``[..., T]`` hard labels.
      mask: optional ``[..., T]`` 0/1 weights.
      alpha: weight of the distillation term, in ``[0, 1]``.

    Returns:
      ``[..., T]`` per-token losses.
    """
    return knowledge_distillation(student_logits, teacher_log_probs, targets, mask,
                                  temperature=1.0, alpha=alpha)


def perturb_tokens(key: jax.Array, tokens: jax.Array, vocab_size: int, *,
                   replace_rate: float = 0.1, drop_rate: float = 0.0,
                   drop_id: int | None = None, keep: jax.Array | None = None) -> jax.Array:
    """Student input noise of Liu et al. (2021): token replacement and token drop.

    Each token is, independently, replaced by a uniformly random id in
    ``[0, vocab_size)`` with probability ``replace_rate``, or else dropped (set to
    ``drop_id``, a placeholder id such as BOS; the sequence length is kept so that
    positions stay aligned with the targets) with probability ``drop_rate``.

    Args:
      key: PRNG key.
      tokens: ``[..., T]`` int token ids.
      vocab_size: number of ids a replacement is drawn from.
      replace_rate: probability of replacement.
      drop_rate: probability of a drop (needs ``drop_id``).
      drop_id: id written at dropped positions.
      keep: optional ``[..., T]`` bool; True positions are never perturbed (e.g. BOS).

    Returns:
      The perturbed ``[..., T]`` ids.

    Raises:
      ValueError: on rates outside ``[0, 1]`` or ``drop_rate > 0`` without ``drop_id``.
    """
    if not (0.0 <= replace_rate <= 1.0 and 0.0 <= drop_rate <= 1.0
            and replace_rate + drop_rate <= 1.0):
        raise ValueError(f"need 0 <= replace_rate, drop_rate and their sum <= 1, got "
                         f"{replace_rate}, {drop_rate}")
    if drop_rate > 0 and drop_id is None:
        raise ValueError("drop_rate > 0 needs a drop_id")
    k_u, k_v = jax.random.split(key)
    u = jax.random.uniform(k_u, tokens.shape)
    random_ids = jax.random.randint(k_v, tokens.shape, 0, vocab_size, tokens.dtype)
    out = jnp.where(u < replace_rate, random_ids, tokens)
    if drop_rate > 0:
        dropped = (u >= replace_rate) & (u < replace_rate + drop_rate)
        out = jnp.where(dropped, jnp.asarray(drop_id, tokens.dtype), out)
    if keep is not None:
        out = jnp.where(keep, tokens, out)
    return out


def embedding_dropout(key: jax.Array, embeddings: jax.Array, rate: float) -> jax.Array:
    """Inverted dropout on ``[..., W]`` embeddings: zero with probability ``rate``, scale the rest.

    The teacher noise of Liu et al. (2021) is dropout kept on while the teacher
    predicts the soft targets; this applies it to the teacher's input embeddings.
    ``rate = 0`` is the identity.

    Args:
      key: PRNG key.
      embeddings: any array.
      rate: drop probability in ``[0, 1)``.

    Returns:
      An array of ``embeddings``' shape with the same expectation.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must lie in [0, 1), got {rate}")
    if rate == 0.0:
        return embeddings
    keep = jax.random.bernoulli(key, 1.0 - rate, embeddings.shape)
    return jnp.where(keep, embeddings / (1.0 - rate), 0.0)
