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
* MCMI teachers [P034]: the conditional mutual information of a classifier's
  outputs given the label (:func:`conditional_mutual_information`, :func:`mcmi_loss`).
* Knowledge transfer over finite domains [P050]: the losses of the three privilege
  levels (:func:`privilege_level_loss`).

The tempered soft-target losses also serve SALT [P153] and teacher distillation
[P193] (the experiments ``slm_kd`` and ``teacher_distillation``).

All functions take per-token logits ``[..., T, V]``, integer targets ``[..., T]``
and an optional 0/1 mask ``[..., T]``, and return per-token losses ``[..., T]``
(zero where masked); callers average them (e.g.
:func:`likelihood_jax.sequence.objectives.masked_mean`). Teacher inputs are log
probabilities under ``stop_gradient``: the teacher is never trained by these
losses.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax.sequence.objectives import token_cross_entropy, token_log_probs, token_mask


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
    mask = token_mask(student_logits, jnp.zeros(student_logits.shape[:-1], jnp.int32), mask)
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


# -- MCMI [P034] --
# Ye, Hamidi, Tan & Yang (2024), "Bayes conditional distribution estimation for knowledge
# distillation based on conditional mutual information" (ICLR 2024, arXiv:2401.08732): the
# teacher is trained to maximize its log-likelihood *and* the conditional mutual information
# I(X; Yhat | Y) between the input and its prediction given the label, then distilled as usual.


def _check_classification(logits, labels, mask):
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"logits [B, C] and labels [B] do not fit: {logits.shape} vs "
                         f"{labels.shape}")
    if mask is None:
        return jnp.ones(labels.shape, logits.dtype)
    if mask.shape != labels.shape:
        raise ValueError(f"mask shape {mask.shape} differs from labels shape {labels.shape}")
    return mask.astype(logits.dtype)


def class_centroids(probs: jax.Array, labels: jax.Array, num_classes: int,
                    mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Class-conditional mean predictions ``pbar_y = sum_{y_i = y} w_i p_i / sum_{y_i = y} w_i``.

    ``pbar_y`` estimates ``E[P(. | X) | Y = y]``, the "centroid" of class ``y`` in the
    probability simplex (Ye et al., 2024). Computed with :func:`jax.ops.segment_sum`
    in ``O(B C)``. A class without examples gets the uniform centroid and weight 0.

    Args:
      probs: ``[B, C]`` predicted probabilities.
      labels: ``[B]`` int labels in ``[0, num_classes)``.
      num_classes: ``K``, the number of labels (segments).
      mask: optional ``[B]`` nonnegative example weights (0/1 or counts).

    Returns:
      ``([K, C] centroids, [K] total weight per class)``.

    Raises:
      ValueError: on mismatched shapes.
    """
    w = _check_classification(probs, labels, mask)
    labels = labels.astype(jnp.int32)
    sums = jax.ops.segment_sum(w[:, None] * probs, labels, num_segments=num_classes)
    weight = jax.ops.segment_sum(w, labels, num_segments=num_classes)
    uniform = jnp.full_like(sums, 1.0 / probs.shape[-1])
    centroids = jnp.where(weight[:, None] > 0, sums / jnp.maximum(weight, 1e-30)[:, None],
                          uniform)
    return centroids, weight


def conditional_mutual_information(logits: jax.Array, labels: jax.Array, num_classes: int,
                                   mask: jax.Array | None = None,
                                   centroids: jax.Array | None = None,
                                   stop_gradient_centroids: bool = True) -> jax.Array:
    """Per-example ``KL(p_i || pbar_{y_i})``; its weighted mean is the plug-in ``I(X; Yhat | Y)``.

    With ``p_i = softmax(z_i)`` and the class centroids ``pbar_y`` of
    :func:`class_centroids` (from this batch unless ``centroids`` is given),
    ``sum_i w_i KL(p_i || pbar_{y_i}) / sum_i w_i`` equals the conditional mutual
    information ``sum_y P(y) sum_x P(x | y) KL(P(. | x) || pbar_y) = H(Yhat | Y) -
    H(Yhat | X, Y)`` of the empirical joint of the batch (Ye et al., 2024).
    It is 0 exactly when all predictions within each class coincide.

    Gradients: ``pbar_y`` minimizes ``sum_{i: y_i = y} w_i KL(p_i || q)`` over the
    simplex, so (envelope theorem) the gradient that flows through the batch
    centroids is zero and ``stop_gradient_centroids`` does not change the gradient;
    it matches the paper's alternating algorithm, which holds the centroids fixed
    while updating the network. Bias: a plug-in estimate from a finite batch, biased
    upward for small classes (a class with one example contributes 0, with ``m``
    examples the centroid overfits them). Cost ``O(B C)``.

    Args:
      logits: ``[B, C]`` logits (or log-probabilities).
      labels: ``[B]`` int labels.
      num_classes: ``K``.
      mask: optional ``[B]`` example weights; masked examples neither form centroids
        nor contribute (their output is 0).
      centroids: optional fixed ``[K, C]`` centroids (e.g. from the whole training
        set, as the paper recomputes them once per epoch).
      stop_gradient_centroids: whether to stop gradients through the centroids.

    Returns:
      ``[B]`` KL divergences in nats.

    Raises:
      ValueError: on mismatched shapes.
    """
    w = _check_classification(logits, labels, mask)
    log_p = jax.nn.log_softmax(logits, axis=-1)
    p = jnp.exp(log_p)
    if centroids is None:
        centroids, _ = class_centroids(p, labels, num_classes, w)
    elif centroids.shape != (num_classes, logits.shape[-1]):
        raise ValueError(f"centroids must be [{num_classes}, {logits.shape[-1]}], got "
                         f"{centroids.shape}")
    if stop_gradient_centroids:
        centroids = jax.lax.stop_gradient(centroids)
    log_c = jnp.log(jnp.maximum(centroids, jnp.finfo(log_p.dtype).tiny))[labels]
    kl = jnp.sum(jnp.where(p > 0, p * (log_p - log_c), 0.0), axis=-1)
    return kl * w


def mcmi_loss(logits: jax.Array, labels: jax.Array, num_classes: int, *,
              cmi_weight: float | jax.Array, mask: jax.Array | None = None,
              centroids: jax.Array | None = None) -> jax.Array:
    """The MCMI teacher objective per example: ``-log p_i(y_i) - lambda KL(p_i || pbar_{y_i})``.

    Its mean over the batch is ``CE - lambda * I(X; Yhat | Y)`` (Ye et al., 2024):
    minimizing it maximizes the log-likelihood and the conditional mutual
    information together, which spreads each class's predictions around their
    centroid (more "contextual" mass on non-target classes) instead of collapsing
    them onto one vertex as MLE does. ``lambda = 0`` is exactly MLE. The centroids
    are held fixed in the gradient (see :func:`conditional_mutual_information`).

    Args:
      logits: ``[B, C]`` teacher logits.
      labels: ``[B]`` int labels.
      num_classes: ``K``.
      cmi_weight: ``lambda >= 0``.
      mask: optional ``[B]`` example weights.
      centroids: optional fixed ``[K, C]`` centroids (default: this batch's).

    Returns:
      ``[B]`` per-example losses (0 where masked).

    Raises:
      ValueError: on mismatched shapes or a negative ``cmi_weight``.
    """
    if isinstance(cmi_weight, (int, float)) and cmi_weight < 0:
        raise ValueError(f"cmi_weight (lambda) must be nonnegative, got {cmi_weight}")
    w = _check_classification(logits, labels, mask)
    ce = token_cross_entropy(logits, labels.astype(jnp.int32), w)
    cmi = conditional_mutual_information(logits, labels, num_classes, w, centroids)
    return ce - cmi_weight * cmi


# -- finite-domain transfer [P050] --
# Zhao & Zhu (2024), "Towards the fundamental limits of knowledge transfer over finite
# domains" (ICLR 2024, arXiv:2310.07838): a student pi learns a teacher pi*(a | s) from n
# samples (s_i, a_i ~ pi*(. | s_i)) with three levels of privileged information: hard labels
# (CE_sgl, MLE; TV rate sqrt(|S||A| / n)), the teacher's probability pi*(a_i | s_i) of each
# sampled label ("partial soft labels": SEL_ptl reaches |S||A| / n, the naive CE_ptl is
# biased), and the full soft label pi*(. | s_i) (CE_ful, any KL minimizer; rate |S| / n).
# Hard labels are :func:`likelihood_jax.sequence.objectives.token_cross_entropy`, full soft
# labels :func:`soft_cross_entropy`; the two partial-soft-label losses follow.

PRIVILEGE_LEVEL_LOSSES = ("ce_sgl", "ce_ptl", "sel_ptl", "ce_ful")


def partial_soft_label_cross_entropy(student_logits: jax.Array, targets: jax.Array,
                                     teacher_target_log_probs: jax.Array,
                                     mask: jax.Array | None = None) -> jax.Array:
    """The naive ``CE_ptl`` of Zhao & Zhu (2024, eq. 4.2): ``-pi*(a_i | s_i) log pi(a_i | s_i)``.

    Cross-entropy of the sampled label weighted by the teacher's probability of it.
    **Biased**: its population minimizer per input is ``pi(a | s) ∝ pi*(a | s)^2``
    (the label is sampled with probability ``pi*`` *and* weighted by ``pi*``; Lemma
    4.2), which over-weights large and under-weights small probabilities; it equals
    the teacher only for uniform or one-hot rows (Theorem 4.3). Kept as the paper's
    negative baseline.

    Args:
      student_logits: ``[..., T, V]`` student logits.
      targets: ``[..., T]`` sampled labels ``a_i``.
      teacher_target_log_probs: ``[..., T]`` ``log pi*(a_i | s_i)`` (stop-gradient).
      mask: optional ``[..., T]`` weights.

    Returns:
      ``[..., T]`` per-sample losses.

    Raises:
      ValueError: on mismatched shapes.
    """
    if teacher_target_log_probs.shape != targets.shape:
        raise ValueError(f"teacher_target_log_probs {teacher_target_log_probs.shape} must have "
                         f"the targets' shape {targets.shape}")
    weight = jnp.exp(jax.lax.stop_gradient(teacher_target_log_probs))
    return weight * token_cross_entropy(student_logits, targets, mask)


def partial_soft_label_squared_logit(student_logits: jax.Array, targets: jax.Array,
                                     teacher_target_log_probs: jax.Array,
                                     mask: jax.Array | None = None) -> jax.Array:
    """``SEL_ptl`` (Zhao & Zhu 2024, eq. 4.6): ``(log pi(a_i | s_i) - log pi*(a_i | s_i))^2 / 2``.

    The empirical squared error between the *normalized* logits (log-probabilities)
    of student and teacher at the sampled label only. Every sampled pair can be
    matched exactly, so the minimizers are the ``pi`` with ``pi(a | s) = pi*(a | s)``
    on every seen ``(s, a)`` (eq. 4.7); the population loss
    ``E_{a ~ pi*} 1/2 (log pi - log pi*)^2`` is minimized by the teacher alone
    (unbiased, unlike :func:`partial_soft_label_cross_entropy`). The paper assigns
    the unseen labels' missing mass uniformly; gradient descent from equal logits
    does the same, because unseen labels of an input receive identical gradients.
    TV rate ``|S||A| / n`` (Theorem 4.4).

    Args:
      student_logits: ``[..., T, V]`` student logits.
      targets: ``[..., T]`` sampled labels.
      teacher_target_log_probs: ``[..., T]`` ``log pi*(a_i | s_i)`` (stop-gradient).
      mask: optional ``[..., T]`` weights.

    Returns:
      ``[..., T]`` per-sample losses.

    Raises:
      ValueError: on mismatched shapes.
    """
    if teacher_target_log_probs.shape != targets.shape:
        raise ValueError(f"teacher_target_log_probs {teacher_target_log_probs.shape} must have "
                         f"the targets' shape {targets.shape}")
    mask = token_mask(student_logits, targets, mask)
    log_q = token_log_probs(student_logits, targets)[1]
    diff = log_q - jax.lax.stop_gradient(teacher_target_log_probs)
    return 0.5 * diff ** 2 * mask


def privilege_level_loss(name: str, student_logits: jax.Array, targets: jax.Array,
                         teacher_log_probs: jax.Array,
                         mask: jax.Array | None = None) -> jax.Array:
    """The student loss of one privilege level of Zhao & Zhu (2024), per sample.

    ``name`` is one of :data:`PRIVILEGE_LEVEL_LOSSES`: ``"ce_sgl"`` (hard labels,
    MLE, reads only ``targets``), ``"ce_ptl"`` / ``"sel_ptl"`` (partial soft labels:
    read only ``teacher_log_probs`` at the sampled label), ``"ce_ful"`` (full soft
    labels: ``KL(pi*(. | s_i) || pi(. | s_i))``, the cross-entropy up to a constant).

    Args:
      name: the level's loss.
      student_logits: ``[..., T, V]`` student logits.
      targets: ``[..., T]`` sampled labels.
      teacher_log_probs: ``[..., T, V]`` the teacher's full log-probabilities; each
        level reads only what it is privileged to.
      mask: optional ``[..., T]`` weights.

    Returns:
      ``[..., T]`` per-sample losses.

    Raises:
      ValueError: on an unknown ``name`` or mismatched shapes.
    """
    if name not in PRIVILEGE_LEVEL_LOSSES:
        raise ValueError(f"unknown privilege-level loss {name!r}; choose one of "
                         f"{PRIVILEGE_LEVEL_LOSSES}")
    if name == "ce_sgl":
        return token_cross_entropy(student_logits, targets, mask)
    if name == "ce_ful":
        return soft_cross_entropy(student_logits, teacher_log_probs, mask)
    if teacher_log_probs.shape != student_logits.shape:
        raise ValueError(f"teacher_log_probs {teacher_log_probs.shape} and student_logits "
                         f"{student_logits.shape} must have the same shape")
    sampled = jnp.take_along_axis(teacher_log_probs, targets[..., None].astype(jnp.int32),
                                  -1)[..., 0]
    loss = (partial_soft_label_cross_entropy if name == "ce_ptl"
            else partial_soft_label_squared_logit)
    return loss(student_logits, targets, sampled, mask)
