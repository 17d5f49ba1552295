"""Bad inputs to the public core API: one clear ``ValueError`` naming the function and argument.

A table in the flowjax/diffrax manner: every public function of the core modules
(estimators, score_matching, distributions, transport, metrics, structured) with its bad
inputs. Each case asserts the exception type and that the message reads
``"<function>: ... <argument> ... must ..."``.

* :data:`STATIC`: ranks, shapes, dtypes, options and Python-number domains, raised while the
  function is traced (each case runs under ``jax.eval_shape``: nothing is computed, so the
  checks cost nothing under ``jax.jit``).
* :data:`HOST`: values checked eagerly on concrete arrays (host-side metrics, the OT
  assignment's NaN check).
* :data:`VALUES`: value checks behind ``validate_args=True`` (``jax.experimental.checkify``),
  each run eagerly and under ``jax.jit(checkify.checkify(f))``; the same call with
  ``validate_args=False`` (the default) must not raise, and good values must pass.
* hypothesis-generated shapes for the rank and shape checks.

The good inputs themselves are covered by each module's own tests.
"""

from __future__ import annotations

import importlib
import inspect
import re

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

from likelihood_jax import (
    distributions,
    estimators,
    metrics,
    score_matching,
    scoring,
    structured,
    transport,
)
from likelihood_jax.metrics import graphs, sample_quality
from likelihood_jax.mixtures import (
    annotators,
    detection,
    federated,
    incremental,
    naive_bayes,
    sdp_clustering,
)

LOGME = importlib.import_module("likelihood_jax.metrics.logme")  # the name is the function
KEY = jax.random.key(0)
V3 = jnp.ones(3)
BATCH = jnp.ones((4, 3))


def identity(z):
    return z


def log_density(z):
    return -0.5 * jnp.sum(z * z)


def _message(function: str, argument: str) -> str:
    """The pattern of an error of ``function`` naming ``argument``."""
    return rf"^{re.escape(function)}: (.*\W)?{re.escape(argument)}\W.*must "


UNARY, TRANSITION = jnp.zeros((3, 2)), jnp.zeros((2, 2))
#: A 2-state HMM in 2 dimensions: initial, transition, means, covariances.
HMM2 = (jnp.array([0.5, 0.5]), jnp.array([[0.9, 0.1], [0.2, 0.8]]), jnp.zeros((2, 2)),
        jnp.stack([jnp.eye(2)] * 2))
DFA_NEXT, DFA_ACCEPT = np.array([[0, 1], [1, -1]], np.int32), np.array([False, True])
EYE2 = jnp.eye(2)

#: (function name, argument named in the message, the bad call).
STATIC = [
    # estimators
    ("sample_probes", "probe", lambda: estimators.sample_probes(KEY, (2, 3), "uniform")),
    ("sample_probes", "shape", lambda: estimators.sample_probes(KEY, (2, -1))),
    ("sample_probes", "dtype", lambda: estimators.sample_probes(KEY, (2, 3), dtype=jnp.int32)),
    ("exact_divergence", "x", lambda: estimators.exact_divergence(identity, BATCH)),
    ("exact_divergence", "x", lambda: estimators.exact_divergence(identity, jnp.ones(3, int))),
    ("exact_divergence", "f", lambda: estimators.exact_divergence(V3, V3)),
    ("exact_divergence", "f", lambda: estimators.exact_divergence(lambda z: z[:2], V3)),
    ("exact_divergence", "event_ndim",
     lambda: estimators.exact_divergence(identity, V3, event_ndim=0)),
    ("hutchinson_divergence", "x", lambda: estimators.hutchinson_divergence(identity, BATCH, KEY)),
    ("hutchinson_divergence", "key",
     lambda: estimators.hutchinson_divergence(identity, V3, None)),
    ("hutchinson_divergence", "num_probes",
     lambda: estimators.hutchinson_divergence(identity, V3, KEY, num_probes=0)),
    ("hutchinson_divergence", "num_probes",
     lambda: estimators.hutchinson_divergence(identity, V3, KEY, num_probes=1.5)),
    ("hutchinson_divergence", "probe",
     lambda: estimators.hutchinson_divergence(identity, V3, KEY, probe="sphere")),
    ("hutchinson_divergence", "mode",
     lambda: estimators.hutchinson_divergence(identity, V3, KEY, mode="forward")),
    ("divergence_and_value", "x",
     lambda: estimators.divergence_and_value(identity, BATCH, event_ndim=1)),
    ("divergence_and_value", "x", lambda: estimators.divergence_and_value(identity, jnp.arange(3))),
    ("divergence_and_value", "f", lambda: estimators.divergence_and_value(jnp.sum, V3)),
    # score_matching
    ("exact_score_matching", "x", lambda: score_matching.exact_score_matching(identity, BATCH)),
    ("exact_score_matching", "score_fn", lambda: score_matching.exact_score_matching(V3, V3)),
    ("sliced_score_matching", "x",
     lambda: score_matching.sliced_score_matching(identity, BATCH, KEY)),
    ("sliced_score_matching", "num_slices",
     lambda: score_matching.sliced_score_matching(identity, V3, KEY, num_slices=0)),
    ("sliced_score_matching", "probe",
     lambda: score_matching.sliced_score_matching(identity, V3, KEY, probe="unit")),
    ("sliced_score_matching", "key",
     lambda: score_matching.sliced_score_matching(identity, V3, None)),
    ("sliced_score_matching", "score_fn",
     lambda: score_matching.sliced_score_matching(jnp.sum, V3, KEY)),
    ("denoising_score_matching", "sigma",
     lambda: score_matching.denoising_score_matching(identity, V3, KEY, 0.0)),
    ("denoising_score_matching", "sigma",
     lambda: score_matching.denoising_score_matching(identity, V3, KEY, -1.0)),
    ("denoising_score_matching", "sigma",
     lambda: score_matching.denoising_score_matching(identity, V3, KEY, jnp.ones(3))),
    ("denoising_score_matching", "x",
     lambda: score_matching.denoising_score_matching(identity, BATCH, KEY, 0.1)),
    ("finite_difference_sliced_score_matching", "eps",
     lambda: score_matching.finite_difference_sliced_score_matching(log_density, V3, KEY, eps=0)),
    ("finite_difference_sliced_score_matching", "x",
     lambda: score_matching.finite_difference_sliced_score_matching(log_density, BATCH, KEY)),
    ("finite_difference_sliced_score_matching", "log_prob_fn",
     lambda: score_matching.finite_difference_sliced_score_matching(identity, V3, KEY)),
    ("finite_difference_sliced_score_matching", "num_slices",
     lambda: score_matching.finite_difference_sliced_score_matching(
         log_density, V3, KEY, num_slices=0)),
    ("score_from_log_prob", "log_prob_fn", lambda: score_matching.score_from_log_prob(V3)),
    # distributions
    ("normal_log_prob", "mean", lambda: distributions.normal_log_prob(V3, jnp.zeros(2))),
    ("logistic_log_prob", "log_scale",
     lambda: distributions.logistic_log_prob(V3, 0.0, jnp.zeros(2))),
    ("discretized_logistic_mixture_log_prob", "num_bits",
     lambda: distributions.discretized_logistic_mixture_log_prob(
         V3, jnp.zeros((3, 2)), jnp.zeros((3, 2)), jnp.zeros((3, 2)), num_bits=0)),
    ("discretized_logistic_mixture_log_prob", "fallback_threshold",
     lambda: distributions.discretized_logistic_mixture_log_prob(
         V3, jnp.zeros((3, 2)), jnp.zeros((3, 2)), jnp.zeros((3, 2)), fallback_threshold=1.5)),
    ("discretized_logistic_mixture_log_prob", "means",
     lambda: distributions.discretized_logistic_mixture_log_prob(
         V3, jnp.zeros((3, 2)), jnp.zeros((2, 2)), jnp.zeros((3, 2)))),
    ("multivariate_normal_log_prob", "x",
     lambda: distributions.multivariate_normal_log_prob(jnp.ones((4, 2)), jnp.zeros(2), EYE2)),
    ("multivariate_normal_log_prob", "mean",
     lambda: distributions.multivariate_normal_log_prob(jnp.ones(2), jnp.zeros(3), EYE2)),
    ("multivariate_normal_log_prob", "covariance",
     lambda: distributions.multivariate_normal_log_prob(jnp.ones(2), jnp.zeros(2), jnp.ones(2))),
    ("gaussian_mixture_log_prob", "weights",
     lambda: distributions.gaussian_mixture_log_prob(
         jnp.ones(2), jnp.ones((1, 3)), jnp.zeros((3, 2)), jnp.stack([EYE2] * 3))),
    ("gaussian_mixture_log_prob", "means",
     lambda: distributions.gaussian_mixture_log_prob(
         jnp.ones(2), jnp.ones(3) / 3, jnp.zeros((2, 2)), jnp.stack([EYE2] * 3))),
    ("gaussian_mixture_log_prob", "covariances",
     lambda: distributions.gaussian_mixture_log_prob(
         jnp.ones(2), jnp.ones(3) / 3, jnp.zeros((3, 2)), EYE2)),
    # transport
    ("squared_distances", "x1", lambda: transport.squared_distances(BATCH, jnp.ones((4, 2)))),
    ("squared_distances", "x0", lambda: transport.squared_distances(jnp.ones(()), BATCH)),
    ("exact_ot_pairing", "x0", lambda: transport.exact_ot_pairing(jnp.ones((0, 2)),
                                                                  jnp.ones((0, 2)))),
    ("exact_ot_pairing", "x1", lambda: transport.exact_ot_pairing(BATCH, jnp.ones((4, 2)))),
    ("exact_ot_pairing", "x1", lambda: transport.exact_ot_pairing(BATCH, jnp.ones((3, 3)))),
    ("empirical_wasserstein2", "x1",
     lambda: transport.empirical_wasserstein2(BATCH, jnp.ones((4, 2)))),
    ("sinkhorn_plan", "epsilon", lambda: transport.sinkhorn_plan(BATCH, BATCH, epsilon=0.0)),
    ("sinkhorn_plan", "epsilon", lambda: transport.sinkhorn_plan(BATCH, BATCH, epsilon=-1.0)),
    ("sinkhorn_plan", "threshold",
     lambda: transport.sinkhorn_plan(BATCH, BATCH, epsilon=0.1, threshold=0.0)),
    ("sinkhorn_plan", "max_iterations",
     lambda: transport.sinkhorn_plan(BATCH, BATCH, epsilon=0.1, max_iterations=0)),
    ("sinkhorn_plan", "x1", lambda: transport.sinkhorn_plan(BATCH, jnp.ones((4, 2)),
                                                           epsilon=0.1)),
    ("sinkhorn_plan", "x0", lambda: transport.sinkhorn_plan(jnp.ones((0, 3)), BATCH,
                                                           epsilon=0.1)),
    # mixtures: naive Bayes vs logistic regression, annotators, SDP clustering
    ("gaussian_naive_bayes_fit", "x",
     lambda: naive_bayes.gaussian_naive_bayes_fit(jnp.ones(3), jnp.zeros(3, int), 2)),
    ("gaussian_naive_bayes_fit", "y",
     lambda: naive_bayes.gaussian_naive_bayes_fit(BATCH, jnp.zeros(3), 2)),
    ("gaussian_naive_bayes_fit", "num_classes",
     lambda: naive_bayes.gaussian_naive_bayes_fit(BATCH, jnp.zeros(BATCH.shape[0], int), 0)),
    ("logistic_regression_fit", "l2", lambda: naive_bayes.logistic_regression_fit(
        BATCH, jnp.zeros(BATCH.shape[0], int), 2, l2=0.0)),
    ("gaussian_naive_bayes_log_joint", "variances",
     lambda: naive_bayes.gaussian_naive_bayes_log_joint(BATCH, jnp.zeros(2), jnp.zeros((2, 3)),
                                                        jnp.ones((2, 2)))),
    ("annotation_log_probs", "confusion_log_probs",
     lambda: annotators.annotation_log_probs(jnp.zeros(3), jnp.zeros((2, 3, 2)))),
    ("multi_annotator_nll", "mask", lambda: annotators.multi_annotator_nll(
        jnp.zeros(3), jnp.zeros((2, 3, 3)), jnp.zeros(2, int), jnp.ones(3))),
    ("annotator_weights", "bandwidth",
     lambda: annotators.annotator_weights(jnp.zeros((2, 3)), -1.0)),
    ("solve_membership_sdp", "costs",
     lambda: sdp_clustering.solve_membership_sdp(jnp.zeros((1, 3, 4)), jnp.ones(1))),
    ("solve_membership_sdp", "num_steps",
     lambda: sdp_clustering.solve_membership_sdp(jnp.zeros((1, 3, 3)), jnp.ones(1),
                                                 num_steps=0)),
    # mixtures: D-RMM detection [P136]
    ("component_log_joint", "family", lambda: detection.component_log_joint(
        jnp.zeros((2, 4)), jnp.zeros(3), jnp.zeros((3, 4)), jnp.ones((3, 4)), "laplace")),
    ("component_log_joint", "means", lambda: detection.component_log_joint(
        jnp.zeros((2, 4)), jnp.zeros(3), jnp.zeros((2, 4)), jnp.ones((3, 4)))),
    ("component_log_joint", "labels", lambda: detection.component_log_joint(
        jnp.zeros((2, 4)), jnp.zeros(3), jnp.zeros((3, 4)), jnp.ones((3, 4)),
        labels=jnp.zeros(2, int))),
    ("mixture_nll", "log_joint", lambda: detection.mixture_nll(jnp.zeros(3))),
    ("max_component_loss", "box_mask",
     lambda: detection.max_component_loss(jnp.zeros((2, 3)), jnp.ones(3))),
    ("mixing_log_weights", "logits", lambda: detection.mixing_log_weights(jnp.zeros((2, 3)))),
    ("box_scales", "min_ratio",
     lambda: detection.box_scales(jnp.zeros((3, 4)), jnp.zeros((3, 4)), -0.1)),
    # metrics: bits/dim and dequantization
    ("bits_per_dim", "num_dims", lambda: metrics.bits_per_dim(1.0, 0)),
    ("bits_per_dim", "num_dims", lambda: metrics.bits_per_dim(1.0, -3)),
    ("dequantized_bits_per_dim", "num_levels",
     lambda: metrics.dequantized_bits_per_dim(0.0, 2, num_levels=0)),
    ("dequantized_bits_per_dim", "num_levels",
     lambda: metrics.dequantized_bits_per_dim(0.0, 2, num_levels=-1)),
    ("dequantized_bits_per_dim", "scale", lambda: metrics.dequantized_bits_per_dim(0.0, 2,
                                                                                  scale=0.0)),
    ("dequantized_bits_per_dim", "scale", lambda: metrics.dequantized_bits_per_dim(0.0, 2,
                                                                                  scale=-0.5)),
    ("dequantized_bits_per_dim", "num_dims", lambda: metrics.dequantized_bits_per_dim(0.0, 0)),
    ("uniform_dequantize", "num_levels",
     lambda: metrics.uniform_dequantize(KEY, jnp.zeros(2), num_levels=1)),
    ("uniform_dequantize", "dtype",
     lambda: metrics.uniform_dequantize(KEY, jnp.zeros(2), dtype=jnp.int32)),
    ("cell_centers", "high", lambda: metrics.cell_centers(jnp.zeros(2), num_levels=4, low=1.0,
                                                          high=1.0)),
    ("cell_centers", "num_levels", lambda: metrics.cell_centers(jnp.zeros(2), num_levels=2.0)),
    ("truncated_normal_dequantize", "sigma", lambda: metrics.truncated_normal_dequantize(
        KEY, jnp.zeros(2), num_levels=4, alpha=1.0, sigma=0.0)),
    ("truncated_normal_dequantize", "alpha", lambda: metrics.truncated_normal_dequantize(
        KEY, jnp.zeros(2), num_levels=4, alpha=-1.0, sigma=0.1)),
    ("truncated_normal_entropy", "num_dims", lambda: metrics.truncated_normal_entropy(
        0, num_levels=4, alpha=1.0, sigma=0.1)),
    ("truncated_normal_bits_per_dim", "num_dims",
     lambda: metrics.truncated_normal_bits_per_dim(0.0, 0.0, 0)),
    ("truncated_normal_bits_per_dim", "axis",
     lambda: metrics.truncated_normal_bits_per_dim(jnp.zeros(3), 0.0, 2, axis=1)),
    ("truncated_normal_bits_per_dim", "log_q",
     lambda: metrics.truncated_normal_bits_per_dim(jnp.zeros(3), jnp.zeros(2), 2)),
    # metrics: calibration, distances
    ("expected_calibration_error", "labels",
     lambda: metrics.expected_calibration_error(jnp.full((2, 2), 0.5), jnp.array([0.0, 1.0]))),
    ("expected_calibration_error", "labels",
     lambda: metrics.expected_calibration_error(jnp.full((2, 2), 0.5), jnp.array([0, 1, 1]))),
    ("expected_calibration_error", "num_bins",
     lambda: metrics.expected_calibration_error(jnp.full((2, 2), 0.5), jnp.array([0, 1]),
                                                num_bins=0)),
    ("expected_calibration_error", "mask",
     lambda: metrics.expected_calibration_error(jnp.full((2, 2), 0.5), jnp.array([0, 1]),
                                                mask=jnp.ones(3))),
    ("frechet_distance", "mean1",
     lambda: metrics.frechet_distance(jnp.zeros(2), EYE2, jnp.zeros(3), EYE2)),
    ("mmd_squared", "x", lambda: metrics.mmd_squared(jnp.zeros(4), EYE2, bandwidth=1.0)),
    ("mmd_squared", "y", lambda: metrics.mmd_squared(EYE2, jnp.zeros((2, 3)), bandwidth=1.0)),
    ("mmd_squared", "bandwidth", lambda: metrics.mmd_squared(EYE2, EYE2, bandwidth=-1.0)),
    # metrics: LogME [P204]
    ("logme", "features", lambda: metrics.logme(jnp.zeros(4), jnp.zeros(4, int), num_classes=2)),
    ("logme", "labels", lambda: metrics.logme(BATCH, jnp.zeros(4), num_classes=2)),
    ("logme", "num_classes", lambda: metrics.logme(BATCH, jnp.zeros(4, int))),
    ("logme", "max_iterations",
     lambda: metrics.logme(BATCH, jnp.zeros(4, int), num_classes=2, max_iterations=0)),
    ("linear_regression_log_evidence", "y",
     lambda: LOGME.linear_regression_log_evidence(BATCH, V3, 1.0, 1.0)),
    ("linear_regression_log_evidence", "alpha",
     lambda: LOGME.linear_regression_log_evidence(BATCH, jnp.zeros(4), 0.0, 1.0)),
    ("maximize_linear_regression_evidence", "tol",
     lambda: LOGME.maximize_linear_regression_evidence(BATCH, jnp.zeros(4), tol=0.0)),
    # structured: linear-chain CRFs
    ("crf_log_partition", "transition",
     lambda: structured.crf_log_partition(UNARY, jnp.zeros((2,)))),
    ("crf_log_partition", "transition",
     lambda: structured.crf_log_partition(UNARY, jnp.zeros((1, 2)))),
    ("crf_log_partition", "transition",
     lambda: structured.crf_log_partition(UNARY, jnp.zeros((2, 1)))),
    ("crf_log_partition", "start",
     lambda: structured.crf_log_partition(UNARY, TRANSITION, jnp.zeros(1))),
    ("crf_log_partition", "end",
     lambda: structured.crf_log_partition(UNARY, TRANSITION, None, jnp.zeros(3))),
    ("crf_log_partition", "unary", lambda: structured.crf_log_partition(jnp.zeros((0, 2)),
                                                                        TRANSITION)),
    ("crf_log_partition", "unary", lambda: structured.crf_log_partition(jnp.zeros((4, 3, 2)),
                                                                        TRANSITION)),
    ("crf_viterbi", "transition", lambda: structured.crf_viterbi(UNARY, jnp.zeros((3, 3)))),
    ("crf_log_likelihood", "tags",
     lambda: structured.crf_log_likelihood(jnp.zeros(3), UNARY, TRANSITION)),
    ("crf_log_likelihood", "tags",
     lambda: structured.crf_log_likelihood(jnp.zeros(4, int), UNARY, TRANSITION)),
    ("crf_sequence_score", "tags",
     lambda: structured.crf_sequence_score(jnp.zeros(2, int), UNARY, TRANSITION)),
    # structured: Gaussian HMMs, belief propagation
    ("hmm_log_likelihood", "transition", lambda: structured.hmm_log_likelihood(
        BATCH[:, :2], *HMM2[:1], jnp.ones((2, 3)) / 3, *HMM2[2:])),
    ("hmm_log_likelihood", "covariances", lambda: structured.hmm_log_likelihood(
        BATCH[:, :2], *HMM2[:3], jnp.stack([EYE2] * 3))),
    ("hmm_log_likelihood", "x", lambda: structured.hmm_log_likelihood(BATCH, *HMM2)),
    ("hmm_posteriors", "mask", lambda: structured.hmm_posteriors(
        BATCH[:, :2], *HMM2, jnp.ones(3, bool))),
    ("hmm_em_step", "covariance_type", lambda: structured.hmm_em_step(
        BATCH[None, :, :2], *HMM2, covariance_type="spherical")),
    ("belief_propagation_marginals", "pairwise", lambda: structured.belief_propagation_marginals(
        jnp.zeros((3, 2)), jnp.array([[0, 1]]), jnp.zeros((1, 2)))),
    ("belief_propagation_marginals", "edges", lambda: structured.belief_propagation_marginals(
        jnp.zeros((3, 2)), jnp.array([[0.0, 1.0]]), jnp.zeros((1, 2, 2)))),
    ("crf_marginals", "transition", lambda: structured.crf_marginals(UNARY, jnp.zeros((3, 3)))),
    # mixtures (family LAT-A): the incremental GMM [P138] and federated EM [P065]
    ("incremental_gmm_init", "method",
     lambda: incremental.incremental_gmm_init(2, 3, method="cholesky")),
    ("incremental_gmm_update", "x", lambda: incremental.incremental_gmm_update(
        incremental.incremental_gmm_init(2, 3), jnp.ones(2), V3, threshold=1.0, min_count=1.0,
        min_age=1.0)),
    ("incremental_gmm_update", "variance", lambda: incremental.incremental_gmm_update(
        incremental.incremental_gmm_init(2, 3), V3, jnp.ones(2), threshold=1.0, min_count=1.0,
        min_age=1.0)),
    ("federated_em_step", "covariances", lambda: federated.federated_em_step(
        jnp.ones((2, 4, 3)), jnp.ones((2, 4), bool), jnp.full((2, 2), 0.5),
        federated.MixtureParams(jnp.zeros((2, 3)), jnp.ones((2, 3))))),
    ("federated_em_step", "client_weights", lambda: federated.federated_em_step(
        jnp.ones((2, 4, 3)), jnp.ones((2, 4), bool), jnp.full((3, 2), 0.5),
        federated.MixtureParams(jnp.zeros((2, 3)), jnp.stack([jnp.eye(3)] * 2)))),
    ("crf_marginals", "unary", lambda: structured.crf_marginals(jnp.zeros((2, 3, 2)),
                                                                TRANSITION)),
    ("crf_count_gradients", "tags",
     lambda: structured.crf_count_gradients(jnp.zeros(3), UNARY, TRANSITION)),
    # structured: regular-constrained CRFs
    ("regular_crf_log_partition", "dfa_next", lambda: structured.regular_crf_log_partition(
        UNARY, TRANSITION, DFA_NEXT[:, :1], DFA_ACCEPT)),
    ("regular_crf_log_partition", "dfa_next", lambda: structured.regular_crf_log_partition(
        UNARY, TRANSITION, DFA_NEXT.astype(float), DFA_ACCEPT)),
    ("regular_crf_log_partition", "dfa_accept", lambda: structured.regular_crf_log_partition(
        UNARY, TRANSITION, DFA_NEXT, DFA_ACCEPT[:1])),
    ("regular_crf_log_partition", "dfa_accept", lambda: structured.regular_crf_log_partition(
        UNARY, TRANSITION, DFA_NEXT, DFA_ACCEPT.astype(int))),
    ("regular_crf_log_partition", "transition", lambda: structured.regular_crf_log_partition(
        UNARY, jnp.zeros((3, 3)), DFA_NEXT, DFA_ACCEPT)),
    ("regular_crf_viterbi", "unary", lambda: structured.regular_crf_viterbi(
        jnp.zeros((2, 3, 2)), TRANSITION, DFA_NEXT, DFA_ACCEPT)),
    ("regular_crf_viterbi", "dfa_start", lambda: structured.regular_crf_viterbi(
        UNARY, TRANSITION, DFA_NEXT, DFA_ACCEPT, dfa_start=0.0)),
    ("regular_crf_log_likelihood", "tags", lambda: structured.regular_crf_log_likelihood(
        jnp.zeros(4, int), UNARY, TRANSITION, DFA_NEXT, DFA_ACCEPT)),
    ("dfa_accepts", "tags", lambda: structured.dfa_accepts(jnp.zeros((2, 3), int), DFA_NEXT,
                                                           DFA_ACCEPT)),
    # scoring: Min-K% and Min-K%++
    ("min_k_percent", "token_log_probs", lambda: scoring.min_k_percent(BATCH)),
    ("min_k_percent", "token_log_probs", lambda: scoring.min_k_percent(jnp.zeros(0))),
    ("min_k_percent", "token_log_probs", lambda: scoring.min_k_percent(jnp.zeros(3, int))),
    ("min_k_percent", "k", lambda: scoring.min_k_percent(V3, k=0.0)),
    ("min_k_percent", "k", lambda: scoring.min_k_percent(V3, k=1.5)),
    ("min_k_percent", "mask", lambda: scoring.min_k_percent(V3, mask=jnp.ones(3))),
    ("min_k_percent", "mask", lambda: scoring.min_k_percent(V3, mask=jnp.ones(2, bool))),
    ("log_prob_moments", "log_probs", lambda: scoring.log_prob_moments(jnp.zeros(()))),
    ("log_prob_moments", "log_probs", lambda: scoring.log_prob_moments(jnp.zeros(3, int))),
    ("standardized_log_probs", "log_probs",
     lambda: scoring.standardized_log_probs(V3, jnp.zeros((2, 4)))),
    ("min_k_plus_plus", "log_probs", lambda: scoring.min_k_plus_plus(V3, jnp.zeros(3))),
    ("min_k_plus_plus", "token_log_probs",
     lambda: scoring.min_k_plus_plus(BATCH, jnp.zeros((4, 3)))),
    ("min_k_plus_plus", "k", lambda: scoring.min_k_plus_plus(V3, jnp.zeros((3, 2)), k=-0.1)),
    ("min_k_plus_plus", "mask", lambda: scoring.min_k_plus_plus(
        V3, jnp.zeros((3, 2)), mask=jnp.ones(4, bool))),
]


#: Checks of values made eagerly (host-side metrics, the OT assignment on concrete arrays).
HOST = [
    # regular-constrained CRFs: the entries of a concrete DFA, checked even under jit
    ("regular_crf_log_partition", "dfa_next", lambda: structured.regular_crf_log_partition(
        UNARY, TRANSITION, np.array([[0, 2], [1, -1]], np.int32), DFA_ACCEPT)),
    ("regular_crf_viterbi", "dfa_next", lambda: jax.jit(
        lambda u: structured.regular_crf_viterbi(u, TRANSITION, np.array([[0, -2], [1, 1]]),
                                                 DFA_ACCEPT))(UNARY)),
    ("regular_crf_viterbi", "dfa_start", lambda: structured.regular_crf_viterbi(
        UNARY, TRANSITION, DFA_NEXT, DFA_ACCEPT, dfa_start=2)),
    ("dfa_accepts", "dfa_start", lambda: structured.dfa_accepts(
        jnp.zeros(3, int), DFA_NEXT, DFA_ACCEPT, dfa_start=-1)),
    ("bio_span_count_dfa", "counted_type",
     lambda: structured.regular_crf.bio_span_count_dfa(2, 2, 1)),
    ("bio_span_count_dfa", "count", lambda: structured.regular_crf.bio_span_count_dfa(2, 0, -1)),
    ("bio_span_count_dfa", "num_types", lambda: structured.regular_crf.bio_span_count_dfa(0, 0, 1)),
    # mixtures: D-RMM detection metrics (numpy) [P136]
    ("box_iou", "b", lambda: detection.box_iou(np.zeros((2, 4)), np.zeros((2, 3)))),
    ("average_precision", "iou_threshold", lambda: detection.average_precision(
        np.zeros((1, 2)), np.zeros((1, 2, 4)), np.zeros((1, 1, 4)), np.ones((1, 1)), 1.5)),
    ("average_precision", "pred_boxes", lambda: detection.average_precision(
        np.zeros((1, 2)), np.zeros((1, 3, 4)), np.zeros((1, 1, 4)), np.ones((1, 1)))),
    ("non_maximum_suppression", "boxes",
     lambda: detection.non_maximum_suppression(np.zeros(2), np.zeros((3, 4)))),
    ("components_per_object", "gt_mask", lambda: detection.components_per_object(
        np.zeros((1, 2)), np.zeros((1, 2, 4)), np.zeros((1, 1, 4)), np.ones((1, 2)), 0.1)),
    # transport, calibration, distances
    ("exact_ot_pairing", "x0", lambda: transport.exact_ot_pairing(
        BATCH.at[0, 0].set(jnp.nan), BATCH)),
    ("expected_calibration_error", "probs",
     lambda: metrics.expected_calibration_error(jnp.full((2, 2), 0.7), jnp.array([0, 1]))),
    ("expected_calibration_error", "probs",
     lambda: metrics.expected_calibration_error(jnp.array([[1.5, -0.5]]), jnp.array([0]))),
    ("expected_calibration_error", "labels",
     lambda: metrics.expected_calibration_error(jnp.full((2, 2), 0.5), jnp.array([0, 2]))),
    ("frechet_distance", "cov1",
     lambda: metrics.frechet_distance(jnp.zeros(2), EYE2, jnp.zeros(2), jnp.diag(jnp.array(
         [1.0, -1.0])))),
    ("frechet_distance", "cov0",
     lambda: metrics.frechet_distance(jnp.zeros(2), jnp.array([[1.0, 0.5], [0.0, 1.0]]),
                                      jnp.zeros(2), EYE2)),
    ("logme", "labels", lambda: metrics.logme(BATCH, jnp.zeros(4, int))),  # one class
    # metrics: graphs and sample quality (numpy)
    ("check_adjacency", "adj", lambda: graphs.check_adjacency(np.zeros((2, 3)))),
    ("degree_histogram", "adj", lambda: graphs.degree_histogram(np.zeros(3))),
    ("triangles", "adj", lambda: graphs.triangles(np.zeros((2, 3)))),
    ("clustering_coefficients", "adj", lambda: graphs.clustering_coefficients(np.zeros(3))),
    ("orbit_counts", "adj", lambda: graphs.orbit_counts(np.zeros((2, 3)))),
    ("orbit_feature", "adj", lambda: graphs.orbit_feature(np.zeros((2, 3)))),
    ("clustering_histogram", "bins", lambda: graphs.clustering_histogram(np.zeros((3, 3)), 0)),
    ("clustering_histogram", "adj", lambda: graphs.clustering_histogram(np.zeros(3))),
    ("kernel_value", "sigma", lambda: graphs.kernel_value([1.0], [1.0], "gaussian", 0.0)),
    ("kernel_value", "distance_scaling",
     lambda: graphs.kernel_value([1.0], [1.0], "gaussian_emd", 1.0, distance_scaling=0.0)),
    ("mmd", "xs", lambda: graphs.mmd([], [[1.0]])),
    ("mmd", "sigma", lambda: graphs.mmd([[1.0]], [[1.0]], sigma=-1.0)),
    ("graph_mmds", "kernel", lambda: graphs.graph_mmds([np.zeros((2, 2))], [np.zeros((2, 2))],
                                                       kernel="gaussian")),
    ("graph_mmds", "generated", lambda: graphs.graph_mmds([], [np.zeros((2, 2))])),
    ("graph_mmds", "adj", lambda: graphs.graph_mmds([np.zeros(2)], [np.zeros((2, 2))])),
    ("to_unit_interval", "num_levels",
     lambda: sample_quality.to_unit_interval(np.zeros((2, 4)), 1)),
    ("ImageFeatures", "hidden_units",
     lambda: sample_quality.ImageFeatures(np.zeros((4, 8)), np.zeros(4), hidden_units=0)),
    ("ImageFeatures", "images",
     lambda: sample_quality.ImageFeatures(np.zeros(4), np.zeros(4))),
]


def _ids(cases):
    return [f"{case[0]}-{case[1]}-{i}" for i, case in enumerate(cases)]


@pytest.mark.parametrize("function, argument, call", STATIC, ids=_ids(STATIC))
def test_bad_input_raises_at_trace_time_naming_the_argument(function, argument, call):
    """Raised while tracing (``jax.eval_shape``: nothing runs), so free under ``jax.jit``."""
    with pytest.raises(ValueError, match=_message(function, argument)) as info:
        jax.eval_shape(call)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("function, argument, call", HOST, ids=_ids(HOST))
def test_bad_host_values_raise_eagerly_naming_the_argument(function, argument, call):
    with pytest.raises(ValueError, match=_message(function, argument)) as info:
        call()
    assert "\n" not in str(info.value)


def test_vmap_is_suggested_for_a_batch_given_as_one_example():
    for call in (lambda: estimators.hutchinson_divergence(identity, BATCH, KEY),
                 lambda: score_matching.sliced_score_matching(identity, BATCH, KEY)):
        with pytest.raises(ValueError, match=r"got shape \(4, 3\); jax.vmap over a batch"):
            jax.eval_shape(call)


def test_host_callback_error_reaches_the_user_unwrapped():
    """Eagerly the NaN error of the OT assignment is the plain ValueError, not the runtime's."""
    with pytest.raises(ValueError) as info:
        transport.exact_ot_pairing(BATCH.at[1, 2].set(jnp.nan), BATCH)
    assert type(info.value) is ValueError
    assert "CpuCallback" not in str(info.value) and "INTERNAL" not in str(info.value)
    assert str(info.value).startswith("exact_ot_pairing: x0 and x1 must be finite")


# -- Value checks (validate_args=True) -----------------------------------------------------

SPD = jnp.array([[2.0, 0.5], [0.5, 1.0]])
NOT_PD = jnp.array([[1.0, 2.0], [2.0, 1.0]])
NOT_SYMMETRIC = jnp.array([[1.0, 0.5], [0.0, 1.0]])
MIX_MEANS = jnp.zeros((3, 2))


def _mixture(weights, covariances=jnp.stack([SPD] * 3)):
    return lambda validate_args: distributions.gaussian_mixture_log_prob(
        jnp.ones(2), weights, MIX_MEANS, covariances, validate_args=validate_args)


#: (function name, argument named in the message, validate_args -> the call with bad values).
VALUES = [
    ("gaussian_mixture_log_prob", "weights", _mixture(jnp.array([0.5, 0.3, 0.3]))),
    ("federated_em_step", "covariances", lambda v: federated.federated_em_step(
        jnp.ones((2, 4, 2)), jnp.ones((2, 4), bool), jnp.full((2, 2), 0.5),
        federated.MixtureParams(jnp.zeros((2, 2)), jnp.stack([SPD, NOT_PD])),
        validate_args=v)),
    ("federated_em_step", "client_weights", lambda v: federated.federated_em_step(
        jnp.ones((2, 4, 2)), jnp.ones((2, 4), bool), jnp.array([[0.5, 0.5], [0.5, 0.3]]),
        federated.MixtureParams(jnp.zeros((2, 2)), jnp.stack([SPD, SPD])), validate_args=v)),
    ("gaussian_mixture_log_prob", "weights", _mixture(jnp.array([1.2, -0.1, -0.1]))),
    ("gaussian_mixture_log_prob", "covariances",
     _mixture(jnp.ones(3) / 3, jnp.stack([SPD, NOT_PD, SPD]))),
    ("gaussian_mixture_log_prob", "covariances",
     _mixture(jnp.ones(3) / 3, jnp.stack([SPD, SPD, jnp.zeros((2, 2))]))),
    ("multivariate_normal_log_prob", "covariance",
     lambda v: distributions.multivariate_normal_log_prob(jnp.ones(2), jnp.zeros(2), NOT_PD,
                                                          validate_args=v)),
    ("multivariate_normal_log_prob", "covariance",
     lambda v: distributions.multivariate_normal_log_prob(jnp.ones(2), jnp.zeros(2),
                                                          NOT_SYMMETRIC, validate_args=v)),
    ("discretized_logistic_mixture_log_prob", "x",
     lambda v: distributions.discretized_logistic_mixture_log_prob(
         jnp.array([0.0, 1.5]), jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.zeros((2, 3)),
         validate_args=v)),
    ("crf_log_likelihood", "tags",
     lambda v: structured.crf_log_likelihood(jnp.array([0, 2, 1]), UNARY, TRANSITION,
                                             validate_args=v)),
    ("crf_log_likelihood", "tags",
     lambda v: structured.crf_log_likelihood(jnp.array([0, -1, 1]), UNARY, TRANSITION,
                                             validate_args=v)),
    ("crf_sequence_score", "tags",
     lambda v: structured.crf_sequence_score(jnp.array([0, 1, 5]), UNARY, TRANSITION,
                                             validate_args=v)),
    ("regular_crf_log_likelihood", "tags",
     lambda v: structured.regular_crf_log_likelihood(jnp.array([0, 2, 1]), UNARY, TRANSITION,
                                                     DFA_NEXT, DFA_ACCEPT, validate_args=v)),
    ("dfa_accepts", "tags", lambda v: structured.dfa_accepts(jnp.array([0, 1, 3]), DFA_NEXT,
                                                             DFA_ACCEPT, validate_args=v)),
    ("hmm_log_likelihood", "transition", lambda v: structured.hmm_log_likelihood(
        BATCH[:, :2], HMM2[0], jnp.array([[0.9, 0.2], [0.2, 0.8]]), *HMM2[2:],
        validate_args=v)),
    ("hmm_log_likelihood", "initial", lambda v: structured.hmm_log_likelihood(
        BATCH[:, :2], jnp.array([1.5, -0.5]), *HMM2[1:], validate_args=v)),
    ("hmm_log_likelihood", "covariances", lambda v: structured.hmm_log_likelihood(
        BATCH[:, :2], *HMM2[:3], jnp.stack([SPD, NOT_PD]), validate_args=v)),
    ("uniform_dequantize", "x",
     lambda v: metrics.uniform_dequantize(KEY, jnp.array([0, 4]), num_levels=4,
                                          validate_args=v)),
    ("uniform_dequantize", "x",
     lambda v: metrics.uniform_dequantize(KEY, jnp.array([0.5, 1.0]), num_levels=4,
                                          validate_args=v)),
    ("cell_centers", "x",
     lambda v: metrics.cell_centers(jnp.array([-1, 0]), num_levels=4, validate_args=v)),
    ("truncated_normal_dequantize", "x",
     lambda v: metrics.truncated_normal_dequantize(KEY, jnp.array([4, 0]), num_levels=4,
                                                   alpha=1.0, sigma=0.1, validate_args=v)),
    ("sinkhorn_plan", "x0",
     lambda v: transport.sinkhorn_plan(BATCH.at[0, 0].set(jnp.nan), BATCH, epsilon=0.1,
                                       validate_args=v)),
    ("min_k_plus_plus", "log_probs", lambda v: scoring.min_k_plus_plus(
        -jnp.log(jnp.full(3, 2.0)), jnp.zeros((3, 2)), validate_args=v)),
    ("standardized_log_probs", "token_log_probs", lambda v: scoring.standardized_log_probs(
        jnp.array([-jnp.log(2.0), jnp.nan]), jnp.full((2, 2), -jnp.log(2.0)), validate_args=v)),
]

#: The same functions with good values (validate_args=True must pass and change nothing).
GOOD = [
    lambda v: distributions.gaussian_mixture_log_prob(
        jnp.ones(2), jnp.array([0.2, 0.3, 0.5]), MIX_MEANS, jnp.stack([SPD] * 3),
        validate_args=v),
    lambda v: distributions.multivariate_normal_log_prob(jnp.ones(2), jnp.zeros(2), SPD,
                                                         validate_args=v),
    lambda v: structured.crf_log_likelihood(jnp.array([0, 1, 1]), UNARY, TRANSITION,
                                            validate_args=v),
    lambda v: structured.hmm_log_likelihood(BATCH[:, :2], *HMM2, validate_args=v),
    lambda v: metrics.uniform_dequantize(KEY, jnp.array([0, 3]), num_levels=4, validate_args=v),
    lambda v: scoring.min_k_plus_plus(jnp.log(jnp.array([0.9, 0.5])),
                                      jnp.log(jnp.array([[0.9, 0.1], [0.5, 0.5]])),
                                      validate_args=v),
]


#: Tracing these costs seconds (ott-jax's Sinkhorn solver): their checks are tested eagerly
#: only, where they raise before the solver is built.
EAGER_ONLY = {"sinkhorn_plan"}


@pytest.mark.parametrize("function, argument, call", VALUES, ids=_ids(VALUES))
def test_bad_values_raise_eagerly_with_validate_args(function, argument, call):
    if function not in EAGER_ONLY:  # the default does not look at the values (traced, not run)
        jax.eval_shape(lambda: call(False))
    with pytest.raises(ValueError, match=_message(function, argument)):
        call(True)


# Under jit, one compilation per function suffices: the first case of each.
_JIT_CASES = [next(case for case in VALUES if case[0] == name)
              for name in dict.fromkeys(case[0] for case in VALUES) if name not in EAGER_ONLY]


@pytest.mark.parametrize("function, argument, call", _JIT_CASES, ids=_ids(_JIT_CASES))
def test_bad_values_raise_under_jit_through_checkify(function, argument, call):
    error, _ = jax.jit(checkify.checkify(lambda: call(True)))()
    with pytest.raises(checkify.JaxRuntimeError, match=_message(function, argument)):
        error.throw()


@pytest.mark.parametrize("index", range(len(GOOD)))
def test_good_values_pass_validation_unchanged(index):
    call = GOOD[index]
    error, value = jax.jit(checkify.checkify(lambda: call(True)))()
    error.throw()
    np.testing.assert_allclose(value, jax.jit(lambda: call(False))(), rtol=1e-6)


def test_validate_args_under_plain_jit_says_to_use_checkify():
    """JAX refuses to compile an unfunctionalized check, naming checkify.checkify."""
    with pytest.raises(ValueError, match=r"checkify\.checkify"):
        jax.jit(lambda tags: structured.crf_log_likelihood(tags, UNARY, TRANSITION,
                                                           validate_args=True))(
            jnp.array([0, 1, 1]))


def test_exact_ot_pairing_nan_under_jit_with_validate_args():
    pair = jax.jit(checkify.checkify(
        lambda a, b: transport.exact_ot_pairing(a, b, validate_args=True)))
    error, _ = pair(BATCH.at[0, 0].set(jnp.nan), BATCH)
    with pytest.raises(checkify.JaxRuntimeError, match=_message("exact_ot_pairing", "x0")):
        error.throw()
    error, perm = pair(BATCH, BATCH)
    error.throw()
    assert sorted(np.asarray(perm).tolist()) == [0, 1, 2, 3]


# -- Hypothesis: shapes -------------------------------------------------------------------

_SMALL_SHAPES = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)
_PER_EXAMPLE = {
    "exact_divergence": lambda x: estimators.exact_divergence(identity, x),
    "hutchinson_divergence": lambda x: estimators.hutchinson_divergence(identity, x, KEY),
    "exact_score_matching": lambda x: score_matching.exact_score_matching(identity, x),
    "sliced_score_matching": lambda x: score_matching.sliced_score_matching(identity, x, KEY),
    "denoising_score_matching":
        lambda x: score_matching.denoising_score_matching(identity, x, KEY, 0.1),
    "finite_difference_sliced_score_matching":
        lambda x: score_matching.finite_difference_sliced_score_matching(log_density, x, KEY),
}


@hypothesis.settings(max_examples=20, deadline=None, derandomize=True)
@hypothesis.given(shape=_SMALL_SHAPES.filter(lambda s: len(s) != 1),
                  function=st.sampled_from(sorted(_PER_EXAMPLE)))
def test_per_example_functions_refuse_other_ranks(shape, function):
    with pytest.raises(ValueError, match=_message(function, "x") + ".*jax.vmap"):
        jax.eval_shape(_PER_EXAMPLE[function], jnp.ones(shape))


@hypothesis.settings(max_examples=20, deadline=None, derandomize=True)
@hypothesis.given(num_tags=st.integers(1, 3), transition_shape=_SMALL_SHAPES,
                  start_shape=_SMALL_SHAPES)
def test_crf_refuses_any_other_transition_or_start_shape(num_tags, transition_shape,
                                                         start_shape):
    unary = jnp.zeros((2, num_tags))
    good_transition = transition_shape == (num_tags, num_tags)
    good_start = start_shape == (num_tags,)
    hypothesis.assume(not (good_transition and good_start))
    bad = "transition" if not good_transition else "start"
    with pytest.raises(ValueError, match=_message("crf_log_partition", bad)):
        jax.eval_shape(structured.crf_log_partition, unary, jnp.zeros(transition_shape),
                       jnp.zeros(start_shape))


@hypothesis.settings(max_examples=15, deadline=None, derandomize=True)
@hypothesis.given(size0=st.integers(0, 3), size1=st.integers(0, 3), event0=_SMALL_SHAPES,
                  event1=_SMALL_SHAPES)
def test_exact_ot_pairing_refuses_mismatched_batches(size0, size1, event0, event1):
    hypothesis.assume(not (size0 == size1 >= 1 and event0 == event1))
    with pytest.raises(ValueError, match=r"^exact_ot_pairing: x[01] must "):
        jax.eval_shape(transport.exact_ot_pairing, jnp.ones((size0,) + event0),
                       jnp.ones((size1,) + event1))


# -- Coverage and documentation -----------------------------------------------------------

#: The modules of the API document (their functions document every argument's domain).
DOCUMENTED = (estimators, score_matching, distributions, transport, structured.crf,
              structured.regular_crf, scoring,
              metrics.dequantization, metrics.calibration, metrics.distances, LOGME)
#: ... and the host-side metrics, whose arguments the module docstrings describe.
MODULES = DOCUMENTED + (graphs, sample_quality)


def _public_functions(modules=MODULES):
    for module in modules:
        for name, obj in vars(module).items():
            if (not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and obj.__module__ == module.__name__):
                yield module, name, obj


def test_every_public_function_has_a_bad_input_case():
    tested = {case[0] for case in STATIC + HOST + VALUES}
    missing = sorted(name for _, name, _ in _public_functions() if name not in tested)
    assert not missing, f"public functions without a bad-input case: {missing}"


def test_every_argument_is_documented():
    """The Args section of each public function names each of its parameters (its domain)."""
    undocumented = []
    for module, name, obj in _public_functions(DOCUMENTED):
        doc = inspect.getdoc(obj) or ""
        args = doc.split("Args:", 1)[1] if "Args:" in doc else ""
        target = obj.__init__ if inspect.isclass(obj) else obj
        for parameter in list(inspect.signature(target).parameters)[
                1 if inspect.isclass(obj) else 0:]:
            if not re.search(rf"^\s+{parameter}:", args, re.M):
                undocumented.append(f"{module.__name__}.{name}({parameter})")
    assert not undocumented, undocumented
