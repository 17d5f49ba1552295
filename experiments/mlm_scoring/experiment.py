r"""Masked language model scoring [P239] on a synthetic source with a known distribution.

Salazar, Liang, Nguyen & Kirchhoff (2020), "Masked Language Model Scoring" (ACL 2020,
arXiv:1910.14659). A small bidirectional transformer (the masked LM, trained with BERT
masking) and a causal transformer of the same size (trained by MLE on the same batches,
for the same number of steps) learn a synthetic source ``P`` whose probabilities are
known. The MLM scores a sequence by its pseudo-log-likelihood
``PLL(W) = sum_t log P_MLM(w_t | W_{\t})`` (:mod:`likelihood_jax.sequence.masked_lm`);
evaluation compares it with the causal LM's ``log Q(W)`` and with the truth ``log P(W)``:

* ranking a source sequence above a corrupted copy (one token replaced, or two adjacent
  tokens swapped): ``rank_replace_*``, ``rank_swap_*`` (1 if the original scores higher,
  0.5 on ties);
* rescoring a candidate list (the held-out sequence and ``num_candidates - 1`` variants
  with ``num_edits`` tokens replaced; pick the highest score): ``pick_original_*`` (the
  original is picked), ``pick_agrees_true_*`` (the pick is the candidate the true ``P``
  ranks first), ``pick_true_logp_*`` (true log-probability per token of the pick);
* ``pll``/``true_pll`` per token: the MLM's PLL and the PLL of the exact conditionals
  ``P(w_t | W_{\t})`` (what a perfect MLM reaches); ``clm_logp``/``true_logp`` per token;
  ``mlm_loss`` on test sequences under a fixed masking;
* set-level (``model_metrics``): Pearson correlations of PLL with ``log P`` and with the
  true PLL, and of the causal ``log Q`` with ``log P``, on ``eval.num_corr`` test sequences.

The shared data and model plumbing of the masked-LM experiments is
:class:`likelihood_jax.sequence.experiment.MaskedLMBase` (MLM vs CLM [P192] and latent
bootstrapping [P185] subclass it too): the registered dataset ``"markov_mixture"``, a
mixture of
``num_components`` random Markov chains (the component is the example's ``label``, the
target of the probe), a bidirectional :class:`TransformerLM` whose input vocabulary has
``[MASK] = V`` and ``[BOS] = V + 1`` beyond the ``V`` output tokens, and the same module
with ``causal=True`` (identical parameter tree).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.sequence.experiment import MaskedLMBase, pearson

# -- P239 --------------------------------------------------------------------------------------


def replace_tokens(key, x, num_edits, vocab_size):
    """``x [L]`` with ``num_edits`` distinct positions replaced by different tokens."""
    pos_key, tok_key = jax.random.split(key)
    chosen = jnp.argsort(jax.random.uniform(pos_key, x.shape))[:num_edits]
    edit = jnp.zeros(x.shape, bool).at[chosen].set(True)
    shift = jax.random.randint(tok_key, x.shape, 1, vocab_size, x.dtype)
    return jnp.where(edit, (x + shift) % vocab_size, x)


def swap_adjacent(key, x):
    """``x [L]`` with tokens ``i`` and ``i + 1`` swapped, ``i`` uniform."""
    i = jax.random.randint(key, (), 0, x.shape[0] - 1)
    a, b = x[i], x[i + 1]
    return x.at[i].set(b).at[i + 1].set(a)


def _rank(orig, other):
    return jnp.where(orig > other, 1.0, jnp.where(orig == other, 0.5, 0.0))


class MLMScoring(MaskedLMBase):
    """A masked LM and a causal LM trained side by side; PLL scoring against the truth."""

    headline_metric = "rank_replace_pll"

    def init_params(self, key, batch):
        """``{"mlm": ..., "clm": ...}``: two independent transformers of the same size."""
        mlm_key, clm_key = jax.random.split(key)
        return {"mlm": self.init_model(mlm_key, batch["x"]),
                "clm": self.init_model(clm_key, batch["x"])}

    def loss_fn(self, params, batch, key, step):
        """MLM loss of the bidirectional model plus the causal model's NLL per token."""
        x = batch["x"]
        mlm = self.mlm_loss(params["mlm"], x, key, train=True)
        clm_key = jax.random.fold_in(key, 1)  # the causal model's own dropout masks
        clm = jnp.mean(self.clm_token_nll(params["clm"], x, train=True, key=clm_key), -1)
        return mlm + clm, {"mlm_loss": mlm, "clm_nll": clm}

    def scores(self, params, x):
        """``{"pll", "clm", "true"}`` sequence scores ``[B]`` of ``x [B, L]``."""
        return {"pll": jnp.sum(self.pll_terms(params["mlm"], x), -1),
                "clm": -jnp.sum(self.clm_token_nll(params["clm"], x), -1),
                "true": jax.vmap(self.source.log_prob)(x)}

    def eval_fn(self, params, batch, key):
        """Per-example scoring metrics (module docstring)."""
        x = batch["x"]
        batch_size, length = x.shape
        cfg = self.eval_config
        mask_key, rep_key, swap_key, cand_key = jax.random.split(jax.random.key(0), 4)
        del key  # fixed corruptions: every evaluation sees the same candidates
        out = {"mlm_loss": self.mlm_loss(params["mlm"], x, mask_key)}
        base = self.scores(params, x)
        true_pll = jax.vmap(self.source.conditional_pll_terms)(x)
        out.update({"pll": base["pll"] / length, "clm_logp": base["clm"] / length,
                    "true_logp": base["true"] / length,
                    "true_pll": jnp.sum(true_pll, -1) / length})
        keys = jax.random.split(rep_key, batch_size)
        replaced = jax.vmap(lambda k, s: replace_tokens(k, s, 1, self.vocab_size))(keys, x)
        swapped = jax.vmap(swap_adjacent)(jax.random.split(swap_key, batch_size), x)
        for name, other in [("replace", replaced), ("swap", swapped)]:
            s = self.scores(params, other)
            for kind in ("pll", "clm", "true"):
                out[f"rank_{name}_{kind}"] = _rank(base[kind], s[kind])
        num = cfg.get("num_candidates", 5)
        edits = cfg.get("num_edits", 2)
        cand_keys = jax.random.split(cand_key, batch_size * (num - 1)).reshape(
            batch_size, num - 1)
        variants = jax.vmap(jax.vmap(lambda k, s: replace_tokens(k, s, edits, self.vocab_size),
                                     (0, None)), (0, 0))(cand_keys, x)  # [B, N-1, L]
        cands = jnp.concatenate([x[:, None], variants], 1)  # [B, N, L]
        flat = self.scores(params, cands.reshape(-1, length))
        flat = {k: v.reshape(batch_size, num) for k, v in flat.items()}
        true_best = jnp.argmax(flat["true"], -1)
        for kind in ("pll", "clm", "true"):
            pick = jnp.argmax(flat[kind], -1)
            out[f"pick_original_{kind}"] = (pick == 0).astype(jnp.float32)
            out[f"pick_agrees_true_{kind}"] = (pick == true_best).astype(jnp.float32)
            out[f"pick_true_logp_{kind}"] = jnp.take_along_axis(
                flat["true"], pick[:, None], -1)[:, 0] / length
        return out

    def model_metrics(self, params, key):
        """Pearson correlations of the scores on ``eval.num_corr`` test sequences."""
        n = self.eval_config.get("num_corr", 500)
        x = jnp.asarray(self.dataset.test["x"][:n])
        s = jax.jit(self.scores)(params, x)
        true_pll = jnp.sum(jax.jit(jax.vmap(self.source.conditional_pll_terms))(x), -1)
        s = {k: np.asarray(v) for k, v in s.items()}
        return {"corr_pll_true_logp": pearson(s["pll"], s["true"]),
                "corr_clm_true_logp": pearson(s["clm"], s["true"]),
                "corr_pll_true_pll": pearson(s["pll"], np.asarray(true_pll)),
                "corr_true_pll_true_logp": pearson(np.asarray(true_pll), s["true"])}


EXPERIMENT = MLMScoring
