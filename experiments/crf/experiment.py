"""Linear-chain CRF taggers trained by L2-regularised maximum likelihood [P068].

Sutton and McCallum (2012), "An Introduction to Conditional Random Fields", Foundations and
Trends in Machine Learning 4(4). The tagger (:class:`~likelihood_jax.structured.taggers.
WindowCrfTagger`) scores ``unary[t, k] = bias[k] + sum_o E_o[x_{t+o}, k]`` over a window of
``config.model.window`` tokens each side, with learned transition/start/end scores, and is
trained on ``-log P(y | x) + |theta|^2 / (2 sigma^2 N)`` per sequence (the penalized
likelihood of the tutorial's eq. 5.3, divided by the ``N`` training sequences).

``config.model.structured = False`` is the baseline: the same unary scores as independent
per-position softmax classifiers (no transitions), decoded position by position.

Evaluation (per test sequence): ``tag_accuracy`` (Viterbi), ``tag_accuracy_marginal``
(the argmax of each position's forward-backward marginal), ``nll``; on ``hmm_tagging`` also
the accuracy of the true HMM's own Viterbi path (``hmm_viterbi_accuracy``, the ceiling the
brief names) and of its per-position posterior argmax (``hmm_posterior_accuracy``, the
Bayes-optimal per-tag accuracy), both exact from the HMM's parameters. ``model_metrics``:
the gradient check, autodiff against empirical minus expected feature counts from
forward-backward, on ``config.grad_check_size`` test sequences.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from likelihood_jax.data.synthetic.sources import random_hmm_source
from likelihood_jax.structured import crf
from likelihood_jax.structured.experiment import WindowCrfExperiment
from likelihood_jax.structured.taggers import window_feature_counts


class CrfTagging(WindowCrfExperiment):
    """A CRF (or independent softmax) tagger of ``batch["x"]`` with tags ``batch["tags"]``."""

    headline_metric = "tag_accuracy"

    def log_likelihood(self, params, x, tags):
        """``log P(tags | x)`` per sequence ``[B]`` (CRF, or the sum of softmax terms)."""
        unary, transition, start, end = self.scores(params, x)
        if self.config.model.structured:
            return jax.vmap(crf.crf_log_likelihood, (0, 0, None, None, None))(
                tags, unary, transition, start, end)
        log_probs = jax.nn.log_softmax(unary, axis=-1)
        return jnp.take_along_axis(log_probs, tags[..., None], axis=-1)[..., 0].sum(-1)

    def decode(self, params, x):
        """Predicted tags ``[B, T]``: Viterbi, or the per-position argmax (baseline)."""
        unary, transition, start, end = self.scores(params, x)
        if self.config.model.structured:
            return jax.vmap(crf.crf_viterbi, (0, None, None, None))(
                unary, transition, start, end)[0]
        return jnp.argmax(unary, axis=-1)

    def loss_fn(self, params, batch, key, step):
        """``-log P(y | x) + |theta|^2 / (2 sigma^2 N)`` per sequence."""
        nll = -self.log_likelihood(params, batch["x"], batch["tags"])
        return nll + self.l2_penalty(params), {"nll": nll}

    @functools.cached_property
    def true_hmm(self):
        """The HMM that generated ``hmm_tagging`` (None for other datasets)."""
        d = self.config.dataset
        if d.name != "hmm_tagging":
            return None
        return random_hmm_source(d.seed, d.num_states, d.vocab_size,
                                 transition_concentration=d.transition_concentration,
                                 emission_concentration=d.emission_concentration)

    def eval_fn(self, params, batch, key):
        """Tag accuracy and NLL per sequence; on HMM data, the true HMM's accuracies."""
        x, tags = batch["x"], batch["tags"]
        out = {"tag_accuracy": jnp.mean(self.decode(params, x) == tags, axis=-1),
               "nll": -self.log_likelihood(params, x, tags)}
        if self.config.model.structured:  # max-marginal decoding: best expected accuracy
            node = jax.vmap(crf.crf_marginals, (0, None, None, None))(
                *self.scores(params, x))[0]
            out["tag_accuracy_marginal"] = jnp.mean(jnp.argmax(node, -1) == tags, axis=-1)
        hmm = self.true_hmm
        if hmm is not None:
            unary = hmm.log_emission.T[x]  # [B, T, S]: log p(x_t | z_t = s)
            best = jax.vmap(crf.crf_viterbi, (0, None, None))(
                unary, hmm.log_transition, hmm.log_initial)[0]
            node = jax.vmap(crf.crf_marginals, (0, None, None))(
                unary, hmm.log_transition, hmm.log_initial)[0]
            out["hmm_viterbi_accuracy"] = jnp.mean(best == tags, axis=-1)
            out["hmm_posterior_accuracy"] = jnp.mean(jnp.argmax(node, -1) == tags, axis=-1)
        return out

    @functools.partial(jax.jit, static_argnums=0)
    def gradient_check(self, params, x, tags):
        """Max |autodiff - (empirical - expected counts)| and max |gradient| over all params.

        Counts: ``crf.crf_count_gradients`` (forward-backward marginals) for the scores,
        chained to the window tables by their feature counts.
        """
        auto = jax.grad(lambda p: jnp.sum(self.log_likelihood(p, x, tags)))(params)
        unary, transition, start, end = self.scores(params, x)
        d_unary, d_transition, d_start, d_end = jax.vmap(
            crf.crf_count_gradients, (0, 0, None, None, None))(tags, unary, transition, start,
                                                               end)
        vocab_size, window = self.model.vocab_size, self.model.window
        tables = jax.vmap(lambda t, w: window_feature_counts(t, w, vocab_size, window))(
            x, d_unary)
        counts = {"params": {"tables": tables.sum(0), "bias": d_unary.sum((0, 1)),
                             "transition": d_transition.sum(0), "start": d_start.sum(0),
                             "end": d_end.sum(0)}}
        gaps = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), auto, counts)
        return (jnp.max(jnp.stack(jax.tree.leaves(gaps))),
                jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in jax.tree.leaves(auto)])))

    def model_metrics(self, params, key):
        """The gradient check on the first ``config.grad_check_size`` test sequences.

        In float64: float32 rounding of near-deterministic marginals summed over thousands
        of positions would otherwise show as differences of ``~1e-3``.
        """
        if not self.config.model.structured:
            return {}
        size = int(self.config.grad_check_size)
        test = self.dataset.test
        with jax.enable_x64(True):
            gap, scale = self.gradient_check(
                jax.tree.map(lambda p: jnp.asarray(p, jnp.float64), params),
                jnp.asarray(test["x"][:size]), jnp.asarray(test["tags"][:size]))
        return {"grad_check_max_abs_diff": float(gap), "grad_max_abs": float(scale)}


EXPERIMENT = CrfTagging
