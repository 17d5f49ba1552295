"""Generative adversarial networks: the losses of the minimax game and its optimum [P072].

Goodfellow et al. 2014, "Generative adversarial nets". A discriminator ``D(x) = sigmoid(d(x))``
(``d`` the *logit*) and a generator ``G(z)`` play ::

    min_G max_D V(D, G) = E_{x ~ p_data} log D(x) + E_{z ~ p_z} log(1 - D(G(z))).

Every loss here takes discriminator logits and is elementwise (any shape, so per-example
losses ``[B]`` come out of a batch of logits), written with ``softplus`` for stability:
``-log sigmoid(d) = softplus(-d)`` and ``-log(1 - sigmoid(d)) = softplus(d)``.

* :func:`discriminator_loss`: ``-log D(x) - log(1 - D(G(z)))``, the discriminator's
  cross-entropy (its minimum over ``D`` is ``-V``).
* :func:`minimax_generator_loss`: ``log(1 - D(G(z)))``, the generator's side of the game
  as written (Eq. 1); :func:`non_saturating_generator_loss`: ``-log D(G(z))``, the paper's
  practical replacement with strong gradients early in training (same fixed point).
* :func:`gan_value`: the Monte-Carlo estimate of ``V(D, G)`` from real and fake logits.
* :func:`optimal_discriminator_logit` / :func:`optimal_discriminator`: for fixed ``G`` the
  best discriminator is ``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` (Proposition 1), i.e. the
  logit ``log p_data(x) - log p_g(x)``.
* :func:`value_from_jensen_shannon` / :func:`jensen_shannon_from_value`: at ``D*``,
  ``V(D*, G) = -log 4 + 2 JSD(p_data || p_g)`` (Theorem 1), so the global optimum
  ``p_g = p_data`` has value ``-log 4`` and ``D* = 1/2``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array

LOG_4 = math.log(4.0)


def _logits(function: str, argument: str, x) -> Array:
    x = jnp.asarray(x)
    _checks.require_floating(function, argument, x)
    return x


def discriminator_loss(real_logit, fake_logit) -> Array:
    """The discriminator's loss ``-log D(x) - log(1 - D(G(z)))`` per pair [P072].

    ``softplus(-d(x)) + softplus(d(G(z)))``: the binary cross-entropy of labelling data 1 and
    samples 0. Its expectation is ``-V(D, G)``, so minimizing it is the inner ``max_D``.

    Args:
      real_logit: discriminator logits ``d(x)`` of data, any shape.
      fake_logit: logits ``d(G(z))`` of generated samples, broadcastable with ``real_logit``.

    Returns:
      The elementwise loss (the broadcast shape).
    """
    real = _logits("discriminator_loss", "real_logit", real_logit)
    fake = _logits("discriminator_loss", "fake_logit", fake_logit)
    _checks.require_broadcast("discriminator_loss", real_logit=real.shape,
                              fake_logit=fake.shape)
    return jax.nn.softplus(-real) + jax.nn.softplus(fake)


def minimax_generator_loss(fake_logit) -> Array:
    """The generator's side of the minimax game, ``log(1 - D(G(z))) = -softplus(d)`` [P072].

    Saturates (vanishing gradient) where ``D`` confidently rejects samples, which is why the
    paper trains with :func:`non_saturating_generator_loss` instead.
    """
    return -jax.nn.softplus(_logits("minimax_generator_loss", "fake_logit", fake_logit))


def non_saturating_generator_loss(fake_logit) -> Array:
    """The generator loss used in practice, ``-log D(G(z)) = softplus(-d)`` [P072].

    Same fixed point as the minimax loss (``D = 1/2`` at ``p_g = p_data``) with strong
    gradients where ``D`` rejects the samples (Goodfellow et al. 2014, Section 3).
    """
    return jax.nn.softplus(-_logits("non_saturating_generator_loss", "fake_logit", fake_logit))


def gan_value(real_logits, fake_logits) -> Array:
    """Monte-Carlo estimate of ``V(D, G) = E_data log D(x) + E_z log(1 - D(G(z)))`` [P072].

    Args:
      real_logits: ``d(x)`` for data ``x ~ p_data``, any shape (averaged).
      fake_logits: ``d(G(z))`` for samples ``z ~ p_z``, any shape (averaged; the two sets
        may differ in size).

    Returns:
      A scalar, ``mean(log sigmoid(real)) + mean(log(1 - sigmoid(fake)))``; at most 0.
    """
    real = _logits("gan_value", "real_logits", real_logits)
    fake = _logits("gan_value", "fake_logits", fake_logits)
    return -jnp.mean(jax.nn.softplus(-real)) - jnp.mean(jax.nn.softplus(fake))


def optimal_discriminator_logit(log_p_data, log_p_g) -> Array:
    """Logit of the optimal discriminator for a fixed generator, ``log p_data - log p_g`` [P072].

    Proposition 1: for fixed ``G`` the ``D`` maximizing ``V`` pointwise maximizes
    ``p_data(x) log D + p_g(x) log(1 - D)``, whose maximizer is
    ``D*(x) = p_data(x) / (p_data(x) + p_g(x)) = sigmoid(log p_data(x) - log p_g(x))``.

    Args:
      log_p_data: ``log p_data(x)``, any shape.
      log_p_g: ``log p_g(x)`` at the same points, broadcastable with ``log_p_data``.
    """
    log_p = _logits("optimal_discriminator_logit", "log_p_data", log_p_data)
    log_q = _logits("optimal_discriminator_logit", "log_p_g", log_p_g)
    _checks.require_broadcast("optimal_discriminator_logit", log_p_data=log_p.shape,
                              log_p_g=log_q.shape)
    return log_p - log_q


def optimal_discriminator(log_p_data, log_p_g) -> Array:
    """``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` from two log-densities [P072]."""
    return jax.nn.sigmoid(optimal_discriminator_logit(log_p_data, log_p_g))


def value_from_jensen_shannon(jsd) -> Array:
    """``V(D*, G) = -log 4 + 2 JSD(p_data || p_g)`` (Theorem 1 of [P072]; JSD in nats).

    ``JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2``, in
    ``[0, log 2]``: the value at the optimal discriminator ranges over ``[-log 4, 0]``, with
    ``-log 4`` exactly when ``p_g = p_data``.
    """
    return -LOG_4 + 2.0 * jnp.asarray(jsd)


def jensen_shannon_from_value(value) -> Array:
    """``JSD(p_data || p_g) = (V(D*, G) + log 4) / 2``, the inverse of the identity above.

    Inverts :func:`value_from_jensen_shannon`; a trained (suboptimal) discriminator's value
    gives a lower bound on the JSD.
    """
    return 0.5 * (jnp.asarray(value) + LOG_4)
