"""MLM vs CLM vs CLM-then-MLM pretraining under one token budget [P192].

Gisserot-Boukhlef et al. (2025), "Should We Still Pretrain Encoders with Masked Language
Modeling?" (arXiv:2507.00994): under a fixed budget of training steps (the same batches,
hence the same tokens), pretrain one transformer with

* ``objective.kind = "clm"``: causal language modelling only (causal attention mask,
  next-token NLL of every token);
* ``"mlm"``: masked language modelling only (bidirectional attention, BERT masking,
  NLL of the masked tokens, :func:`likelihood_jax.sequence.masked_lm.masked_lm_loss`);
* ``"clm_then_mlm"``: CLM for the first ``objective.switch_fraction`` of the steps, then
  MLM on the **same parameters** (the paper's biphasic schedule continues training the
  CLM weights with the MLM objective and bidirectional attention; here the two phases
  share one parameter tree and differ only in the attention mask and the objective,
  switched inside the jitted step by ``lax.cond`` on the step counter).

Evaluation as an encoder (bidirectional attention): MLM loss on test sequences under a
fixed masking, pseudo-log-likelihood per token, and a linear probe (logistic regression
on mean-pooled final hidden states) predicting which of the source's mixture components
produced a sequence (``probe_acc``, the headline; ``probe_acc_causal`` probes the same
parameters under the causal mask; ``bayes_acc`` is the accuracy of the true posterior and
``probe_acc_counts`` that of a probe on token counts). ``clm_nll`` is the causal NLL.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.linear_model import LogisticRegression

from likelihood_jax.sequence.experiment import MaskedLMBase

OBJECTIVES = ("clm", "mlm", "clm_then_mlm")


class MLMvsCLM(MaskedLMBase):
    """One transformer pretrained with CLM, MLM or CLM then MLM (``config.objective``)."""

    headline_metric = "probe_acc"

    def __init__(self, config, dataset=None):
        objective = config.objective
        if objective.kind not in OBJECTIVES:
            raise ValueError(f"unknown objective.kind {objective.kind!r}; choose one of "
                             f"{OBJECTIVES}")
        fraction = objective.get("switch_fraction", 0.5)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"objective.switch_fraction must be in [0, 1], got {fraction}")
        super().__init__(config, dataset)
        self.kind = objective.kind
        self.switch_step = int(round(fraction * config.total_steps))

    @functools.cached_property
    def counts_accuracy(self) -> float:
        """Test accuracy of a logistic-regression probe on token counts (bag of tokens)."""
        counts = lambda x: np.stack([np.bincount(r, minlength=self.vocab_size)  # noqa: E731
                                     for r in x]).astype(np.float64)
        n = self.eval_config.get("probe_train", 2000)
        clf = LogisticRegression(max_iter=2000)
        clf.fit(counts(self.dataset.train["x"][:n]), self.dataset.train["label"][:n])
        return float(clf.score(counts(self.dataset.test["x"]), self.dataset.test["label"]))

    def init_params(self, key, batch):
        """One parameter tree for both attention modes."""
        return {"encoder": self.init_model(key, batch["x"])}

    def loss_fn(self, params, batch, key, step):
        """CLM NLL per token, MLM loss, or the first then the second after the switch."""
        x, p = batch["x"], params["encoder"]

        def clm():
            return jnp.mean(self.clm_token_nll(p, x, train=True, key=key), -1)

        def mlm():
            return self.mlm_loss(p, x, key, train=True)

        if self.kind == "clm":
            loss, phase = clm(), jnp.zeros(())
        elif self.kind == "mlm":
            loss, phase = mlm(), jnp.ones(())
        else:
            use_mlm = step >= self.switch_step
            loss = jax.lax.cond(use_mlm, mlm, clm)
            phase = use_mlm.astype(jnp.float32)
        return loss, {"phase_mlm": phase}

    def eval_fn(self, params, batch, key):
        """MLM loss (fixed masking), PLL, causal NLL and the truth, per token."""
        x, p = batch["x"], params["encoder"]
        length = x.shape[1]
        del key
        return {"mlm_loss": self.mlm_loss(p, x, jax.random.key(0)),
                "pll": jnp.sum(self.pll_terms(p, x), -1) / length,
                "clm_nll": jnp.mean(self.clm_token_nll(p, x), -1),
                "true_logp": jax.vmap(self.source.log_prob)(x) / length,
                "true_pll": jnp.sum(jax.vmap(self.source.conditional_pll_terms)(x), -1) / length}

    def model_metrics(self, params, key):
        """Linear-probe accuracies and the no-collapse statistic."""
        p = params["encoder"]
        return {"probe_acc": self.probe_accuracy(p), "probe_acc_causal":
                self.probe_accuracy(p, causal=True), "bayes_acc": self.bayes_accuracy,
                "probe_acc_counts": self.counts_accuracy,
                "embedding_var": self.embedding_variance(p)}


EXPERIMENT = MLMvsCLM
