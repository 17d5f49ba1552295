"""GAN-EM: expectation-maximization with a class-conditional GAN as the M-step [P054].

Zhao et al. 2019, "GAN-EM: GAN based EM learning framework". The data ``x`` have a latent
class ``k`` in ``1..K``. The model is a class-conditional generator ``G(z, k)``; the
discriminator has one logit ``d_k(x)`` per class ("real of class k" against "fake of class
k"); an extra network, the E-net ``q(k | x)``, stands in for Bayes' rule, which a generator
cannot evaluate.

* **E-step.** The E-net is trained by cross-entropy on *generated* samples, whose class is
  known: ``min_q E_{k, z} [-log q(k | G(z, k))]`` (:func:`enet_loss`). Its minimizer is the
  model's posterior ``q(k | x) = pi_k p_G(x | k) / sum_j pi_j p_G(x | j)``; on the data it
  gives the soft assignments ``w_k(x) = q(k | x)`` (:func:`soft_assignments`).
* **M-step.** A discriminator loss weighted by the soft assignments (the paper's weighted
  binary cross-entropy), per data point ``x`` and generated sample ``G(z, c)`` of class
  ``c`` (:func:`weighted_discriminator_loss`)::

      L_D = sum_k w_k(x) (-log D_k(x)) + (-log(1 - D_c(G(z, c)))),

  so head ``k`` sees each data point as "real of class k" with weight ``w_k(x)`` and the
  samples of class ``k`` as fake; its optimum is ``D_k* = w_k p_data / (w_k p_data + pi_k
  p_G(. | k))``, and the generator of class ``k`` then matches the data reweighted by
  ``w_k``, the M-step of the Q function. The generator plays the non-saturating game
  against its own class's head (:func:`conditional_generator_loss`). With one-hot
  ``w`` (known labels) ``L_D`` is K standard GAN discriminator losses, one per class
  (:func:`likelihood_jax.energy.gan.discriminator_loss`), weighted by the class shares.

The authors' code judges every generated sample by every head (and adds a (K+1)-th "fake"
logit): ``all_heads=True`` takes that form, every head labels every sample fake and the
generator of class ``c`` wants head ``c`` to say real and the others fake (a binary
cross-entropy with target ``one_hot(c)``, as in AC-GAN), which pushes the classes apart;
the default is the per-class form above. Clustering is scored with
:func:`clustering_accuracy` (the best one-to-one matching of clusters to labels, Hungarian
algorithm) on the host.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from likelihood_jax import _checks

Array = jax.Array


def _class_logits(function: str, argument: str, x) -> Array:
    x = jnp.asarray(x)
    _checks.require_rank(function, argument, x, 1, "(K,)", " (one example; vmap over a batch)")
    _checks.require_floating(function, argument, x)
    return x


def weighted_discriminator_loss(real_logits, weights, fake_logits, fake_class, *,
                                all_heads: bool = False) -> Array:
    """The M-step discriminator loss of one data point and one generated sample [P054].

    ``sum_k w_k softplus(-d_k(x)) + softplus(d_c(G(z, c)))`` (``-log D = softplus(-d)``,
    ``-log(1 - D) = softplus(d)``); with ``all_heads`` the fake term is
    ``sum_k softplus(d_k(G(z, c)))`` (every head labels the sample fake).

    Args:
      real_logits: ``(K,)``, the discriminator's per-class logits ``d_k(x)`` of a data point.
      weights: ``(K,)``, its soft assignments ``w_k(x) = q(k | x)`` (held fixed: E-step).
      fake_logits: ``(K,)``, the logits ``d_k(G(z, c))`` of a generated sample.
      fake_class: integer scalar ``c``, the class the sample was generated for.
      all_heads: every head labels the sample fake (the authors' code) instead of head
        ``c`` alone.

    Returns:
      A scalar.
    """
    function = "weighted_discriminator_loss"
    real = _class_logits(function, "real_logits", real_logits)
    fake = _class_logits(function, "fake_logits", fake_logits)
    weights = jnp.asarray(weights, real.dtype)
    _checks.require_shape(function, "weights", weights, real.shape, "(K,)")
    _checks.require_shape(function, "fake_logits", fake, real.shape, "(K,)")
    _checks.require_integer(function, "fake_class", fake_class)
    fake_term = jnp.sum(jax.nn.softplus(fake)) if all_heads else jax.nn.softplus(fake[fake_class])
    return jnp.sum(weights * jax.nn.softplus(-real)) + fake_term


def conditional_generator_loss(fake_logits, fake_class, *, all_heads: bool = False) -> Array:
    """Non-saturating loss of a sample ``G(z, c)``: ``-log D_c = softplus(-d_c)`` [P054].

    With ``all_heads`` the binary cross-entropy of all heads against ``one_hot(c)``:
    ``softplus(-d_c) + sum_{k != c} softplus(d_k)``.
    """
    fake = _class_logits("conditional_generator_loss", "fake_logits", fake_logits)
    _checks.require_integer("conditional_generator_loss", "fake_class", fake_class)
    own = jax.nn.softplus(-fake[fake_class])
    if not all_heads:
        return own
    return own + jnp.sum(jax.nn.softplus(fake)) - jax.nn.softplus(fake[fake_class])


def enet_loss(enet_logits, fake_class) -> Array:
    """E-step: cross-entropy ``-log q(c | G(z, c))`` of the E-net on a generated sample [P054].

    Its expectation over ``c ~ pi`` and ``z`` is minimized by the model's posterior
    ``q(k | x) = pi_k p_G(x | k) / sum_j pi_j p_G(x | j)``.
    """
    logits = _class_logits("enet_loss", "enet_logits", enet_logits)
    _checks.require_integer("enet_loss", "fake_class", fake_class)
    return -jax.nn.log_softmax(logits)[fake_class]


def soft_assignments(enet_logits) -> Array:
    """The E-step's soft labels ``w_k(x) = q(k | x)``: the softmax of the E-net's logits."""
    return jax.nn.softmax(jnp.asarray(enet_logits), axis=-1)


def clustering_accuracy(clusters, labels) -> float:
    """Accuracy of a clustering under the best one-to-one map of clusters to labels.

    ``max_perm (1/N) sum_n [perm(cluster_n) = label_n]``, the map found by the Hungarian
    algorithm (``scipy.optimize.linear_sum_assignment``) on the contingency table; clusters
    and labels may have different counts (unmatched clusters count as errors). Host numpy.

    Args:
      clusters: ``(N,)`` non-negative integers.
      labels: ``(N,)`` non-negative integers.

    Raises:
      ValueError: shapes other than two equal ``(N,)`` or non-integer inputs.
    """
    clusters, labels = np.asarray(clusters), np.asarray(labels)
    for name, value in (("clusters", clusters), ("labels", labels)):
        if value.ndim != 1 or not np.issubdtype(value.dtype, np.integer) or value.min() < 0:
            raise _checks.error("clustering_accuracy", name,
                                "a (N,) array of non-negative integers",
                                f"shape {value.shape}, dtype {value.dtype}")
    if clusters.shape != labels.shape:
        raise _checks.error("clustering_accuracy", "clusters, labels", "of the same shape (N,)",
                            f"{clusters.shape} and {labels.shape}")
    table = np.zeros((clusters.max() + 1, labels.max() + 1))
    np.add.at(table, (clusters, labels), 1.0)
    rows, cols = scipy.optimize.linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(labels))
