r"""Membership inference with Min-K% Prob [P105] and Min-K%++ [P251] on a tiny over-fitted LM.

Shi et al. (2024), "Detecting Pretraining Data from Large Language Models" (ICLR 2024,
arXiv:2310.16789) and Zhang et al. (2025), "Min-K%++: Improved Baseline for Detecting
Pre-Training Data from Large Language Models" (ICLR 2025, arXiv:2404.02936). A small causal
LM is trained by maximum likelihood (the shared loop) on ``M`` windows of ``shakespeare_char``
(the members); ``M`` other windows of the same corpus, drawn in the same random draw, are held
out (the non-members; :func:`likelihood_jax.predictive.membership.membership_split`, seeded by
``config.seed``, so every seed has its own member set and its own initialization). After
training (``model_metrics``), every window ``x = (x_0 .. x_T)`` is scored from the model's
next-token log-probabilities ``log p(. | x_<t)``, ``t = 1 .. T``
(:func:`~likelihood_jax.predictive.membership.sequence_scores`):

* ``mean_log_prob``: ``(1/T) sum_t log p(x_t | x_<t)``, the loss baseline;
* ``min_k``: Min-K% Prob, the mean of the lowest ``k T`` token log-probabilities;
* ``min_k_pp``: Min-K%++, the same on ``(log p(x_t | x_<t) - mu_t) / sigma_t``, with
  ``mu_t, sigma_t`` the mean and standard deviation of ``log p(z | x_<t)``, ``z ~ p``, exact
  over the vocabulary (:mod:`likelihood_jax.scoring`);
* ``zlib``: ``log p(x) / zlib(x)`` (Carlini et al. 2021), ``zlib(x)`` the compressed size of the
  window's text in bytes.

Metrics: ``auroc_<score>`` (members positive, :func:`likelihood_jax.metrics.auroc`; the
headline is ``auroc_min_k_pp``) at ``config.eval.k``, ``auroc_<score>_k<percent>`` for each
``k`` of ``config.eval.k_grid``, and the per-token NLL of members and non-members
(``member_nll``, ``nonmember_nll``: the generalization gap that the scores detect).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax import metrics
from likelihood_jax.predictive import membership
from likelihood_jax.sequence.experiment import LanguageModelExperiment, token_windows

FAMILY = "predictive"  # the LM plumbing comes from sequence; the method from predictive
_SPLIT_FIELDS = ("name", "num_members")  # config.dataset fields that are not loader options
#: ``(scores [S, N], labels [N]) -> [S]``: the AUROC of each row (members positive).
_AUROCS = jax.jit(jax.vmap(metrics.auroc, in_axes=(0, None)))


class MembershipInference(LanguageModelExperiment):
    """An LM trained (by MLE) on the members; scores of members and non-members after training."""

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset)
        self.headline_metric = "auroc_min_k_pp"

    def make_dataset(self, config):
        """Train: the ``M`` member windows; test: members then non-members, with ``member``."""
        options = {k: v for k, v in config.dataset.items() if k not in _SPLIT_FIELDS}
        stream = data_lib.load_dataset(config.dataset.name, **options)
        length = config.model.context + 1
        members, texts, is_member = membership.membership_split(
            token_windows(stream.train["x"], length), config.dataset.num_members, config.seed)
        info = data_lib.DatasetInfo(
            kind="text", event_shape=(length,), vocab=stream.info.vocab,
            description=f"{len(members)} member and {len(members)} non-member windows of "
                        f"{length} characters of the {config.dataset.name} train split")
        return data_lib.Dataset(config.dataset.name, {"x": members},
                                {"x": texts, "member": is_member}, info)

    def eval_fn(self, params, batch, key):
        """Per-token NLL of each test window (members and non-members alike)."""
        del key
        inputs, targets = self.inputs_and_targets(batch["x"])
        log_probs = jax.nn.log_softmax(self.logits(params, inputs), -1)
        token = jnp.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
        return {"nll": -jnp.mean(token, -1)}

    @functools.cached_property
    def _ks(self) -> tuple[float, ...]:
        """``eval.k`` first, then the other ``k`` of ``eval.k_grid``."""
        grid = [float(k) for k in self.eval_config.get("k_grid", ())]
        k = float(self.eval_config.get("k", 0.2))
        return (k, *[g for g in grid if g != k])

    @functools.cached_property
    def _score_batch(self):
        """jit: ``(params, x [B, T+1]) -> {score: [B]}`` for every ``k`` of :attr:`_ks`."""

        def scores(params, x):
            inputs, targets = self.inputs_and_targets(x)
            log_probs = jax.nn.log_softmax(self.logits(params, inputs), -1)
            out = {}
            for i, k in enumerate(self._ks):
                by_k = jax.vmap(functools.partial(membership.sequence_scores, k=k))(
                    log_probs, targets)
                suffix = "" if i == 0 else f"_k{round(100 * k)}"
                out.update({f"{name}{suffix}": v for name, v in by_k.items()
                            if i == 0 or name != "mean_log_prob"})
            return out

        return jax.jit(scores)

    def membership_scores(self, params) -> dict[str, np.ndarray]:
        """``{score: [2M]}`` for every test window, in eval batches, with ``zlib``."""
        texts = self.dataset.test["x"]
        size = int(self.config.get("eval_batch_size", 256))
        parts = [jax.device_get(self._score_batch(params, jnp.asarray(texts[i:i + size])))
                 for i in range(0, len(texts), size)]
        out = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        total = out["mean_log_prob"] * (texts.shape[1] - 1)
        out["zlib"] = membership.zlib_ratio(total, texts, self.dataset.info.vocab)
        return out

    def model_metrics(self, params, key):
        """AUROC of every score (members positive) and the member / non-member NLL."""
        del key
        scores = self.membership_scores(params)
        labels = self.dataset.test["member"]
        names = sorted(scores)
        stacked = np.stack([scores[name] for name in names]).astype(np.float32)
        aurocs = jax.device_get(_AUROCS(stacked, labels))  # one compilation for every score
        out = {f"auroc_{name}": float(a) for name, a in zip(names, aurocs)}
        is_member = labels == 1
        out["member_nll"] = float(-scores["mean_log_prob"][is_member].mean())
        out["nonmember_nll"] = float(-scores["mean_log_prob"][~is_member].mean())
        return out


EXPERIMENT = MembershipInference
