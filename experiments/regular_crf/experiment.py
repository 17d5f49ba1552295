"""Constrained training vs constrained decoding of a regular-constrained CRF [P126].

Papay, Klinger and Padó (ICLR 2022), "Constraining Linear-chain CRFs to Regular Languages".
Task (``one_span``): BIO tags of two span types with exactly one span of type ``A`` per
sequence, a global arity rule; ``L`` is the DFA of
:func:`~likelihood_jax.structured.regular_crf.bio_span_count_dfa` (valid BIO, one ``A``).
The tagger is :class:`~likelihood_jax.structured.taggers.WindowCrfTagger` (window
``config.model.window``), trained on ``-log P(y | x) + |theta|^2 / (2 sigma^2 N)`` with

* ``config.training = "unconstrained"``: the plain CRF likelihood (Z over all ``K^T``
  sequences); evaluated with free Viterbi (``*_free``) and with Viterbi restricted to ``L``
  (``*_constrained``: constraining only at decoding);
* ``config.training = "constrained"``: the RegCCRF likelihood ``P(y | x, L)`` (Z over ``L``,
  the paper's constrained training), decoded in ``L``.

Per test sequence: ``exact_match_*`` (all tags right), ``violation_*`` (decoded sequence
outside ``L``), ``tag_accuracy_*``, ``nll_constrained`` (``-log P(y | x, L)``) and the
Bayes-optimal decoder's exact match (``bayes_exact_match``: constrained Viterbi of the
generator's exact posterior, :func:`~likelihood_jax.data.synthetic.tagging.
one_span_reference`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from likelihood_jax.data.synthetic.tagging import one_span_reference
from likelihood_jax.structured import crf, regular_crf
from likelihood_jax.structured.experiment import WindowCrfExperiment

TRAININGS = ("constrained", "unconstrained")


class RegularCrfTagging(WindowCrfExperiment):
    """A CRF tagger of ``one_span`` trained with or without the language ``L``."""

    headline_metric = "exact_match_constrained"

    def __init__(self, config, dataset=None):
        if config.training not in TRAININGS:
            raise ValueError(f"unknown training {config.training!r}; choose one of {TRAININGS}")
        super().__init__(config, dataset=dataset)

    @functools.cached_property
    def dfa(self):
        """``(dfa_next, dfa_accept)`` of valid BIO with exactly one span of type ``A``."""
        return regular_crf.bio_span_count_dfa(2, 0, 1)

    def constrained_log_likelihood(self, scores, tags):
        """``log P(tags | x, L)`` per sequence ``[B]``."""
        unary, transition, start, end = scores
        dfa_next, dfa_accept = self.dfa
        return jax.vmap(lambda y, u: regular_crf.regular_crf_log_likelihood(
            y, u, transition, dfa_next, dfa_accept, start=start, end=end))(tags, unary)

    def constrained_decode(self, unary, transition, start=None, end=None):
        """Viterbi restricted to ``L`` of a batch of unary scores ``[B, T, K]``."""
        dfa_next, dfa_accept = self.dfa
        return jax.vmap(lambda u: regular_crf.regular_crf_viterbi(
            u, transition, dfa_next, dfa_accept, start=start, end=end)[0])(unary)

    def violations(self, tags):
        """``1[tags not in L]`` per sequence ``[B]`` (float)."""
        dfa_next, dfa_accept = self.dfa
        accepted = jax.vmap(lambda y: regular_crf.dfa_accepts(y, dfa_next, dfa_accept))(tags)
        return 1.0 - accepted.astype(jnp.float32)

    def loss_fn(self, params, batch, key, step):
        """``-log P(y | x[, L]) + |theta|^2 / (2 sigma^2 N)`` per sequence."""
        scores = self.scores(params, batch["x"])
        if self.config.training == "constrained":
            nll = -self.constrained_log_likelihood(scores, batch["tags"])
        else:
            nll = -jax.vmap(crf.crf_log_likelihood, (0, 0, None, None, None))(
                batch["tags"], *scores)
        return nll + self.l2_penalty(params), {"nll": nll}

    def eval_fn(self, params, batch, key):
        """Exact match, violations and accuracy under free and constrained decoding."""
        x, tags = batch["x"], batch["tags"]
        scores = self.scores(params, x)
        decoded = {
            "free": jax.vmap(crf.crf_viterbi, (0, None, None, None))(*scores)[0],
            "constrained": self.constrained_decode(*scores)}
        out = {"nll_constrained": -self.constrained_log_likelihood(scores, tags)}
        for name, y in decoded.items():
            out[f"exact_match_{name}"] = jnp.all(y == tags, axis=-1).astype(jnp.float32)
            out[f"tag_accuracy_{name}"] = jnp.mean(y == tags, axis=-1)
            out[f"violation_{name}"] = self.violations(y)
        d = self.config.dataset
        unary, transition = jax.vmap(lambda t: one_span_reference(t, d.cue_prob, d.flip_prob))(x)
        bayes = self.constrained_decode(unary, transition[0])
        out["bayes_exact_match"] = jnp.all(bayes == tags, axis=-1).astype(jnp.float32)
        return out


EXPERIMENT = RegularCrfTagging
