r"""Masked language model scoring [P239] on a synthetic source with a known distribution.

Salazar, Liang, Nguyen & Kirchhoff (2020), "Masked Language Model Scoring" (ACL 2020,
arXiv:1910.14659). A small bidirectional transformer (the masked LM, trained with BERT
masking) and a causal transformer of the same size (trained by MLE on the same batches,
for the same number of steps) learn a synthetic source ``P`` whose probabilities are
known. The MLM scores a sequence by its pseudo-log-likelihood
``PLL(W) = sum_t log P_MLM(w_t | W_{\t})`` (:mod:`likelihood_jax.losses.masked_lm`);
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

The module also holds the shared data and model plumbing of the masked-LM experiments
(:class:`MaskedLMBase`; MLM vs CLM [P192] subclasses it): a source that is a mixture of
``num_components`` random Markov chains (the component is the example's ``label``, the
target of the probe), a bidirectional :class:`TransformerLM` whose input vocabulary has
``[MASK] = V`` and ``[BOS] = V + 1`` beyond the ``V`` output tokens, and the same module
with ``causal=True`` (identical parameter tree).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from sklearn.linear_model import LogisticRegression

from likelihood_jax import data as data_lib
from likelihood_jax.language_model import make_source
from likelihood_jax.losses import masked_lm
from likelihood_jax.losses import sequence as seq_losses
from likelihood_jax.models.transformer import TransformerLM
from likelihood_jax.train import Experiment

# -- The source: a mixture of Markov chains ------------------------------------------------


class MixtureSource:
    """Equal-weight mixture of ``K`` synthetic sources: ``P(x) = (1/K) sum_k P_k(x)``."""

    def __init__(self, components):
        vocab = {c.vocab_size for c in components}
        if len(vocab) != 1:
            raise ValueError(f"mixture components have different vocabularies {vocab}")
        self.components = list(components)
        self.vocab_size = vocab.pop()

    def component_log_probs(self, x: jax.Array) -> jax.Array:
        """``[K]`` ``log P_k(x)`` of one sequence ``x [L]``."""
        return jnp.stack([c.log_prob(x) for c in self.components])

    def log_prob(self, x: jax.Array) -> jax.Array:
        """``log P(x)`` of one sequence ``x [L]``."""
        return (jax.nn.logsumexp(self.component_log_probs(x))
                - math.log(len(self.components)))

    def conditional_pll_terms(self, x: jax.Array) -> jax.Array:
        r"""``[L]`` exact ``log P(x_t | x_{\t})`` of one sequence (the ideal MLM's terms)."""
        length, vocab = x.shape[0], self.vocab_size
        variants = jnp.where(jnp.eye(length, dtype=bool)[:, None, :],
                             jnp.arange(vocab)[None, :, None], x[None, None, :])  # [L, V, L]
        log_p = jax.vmap(jax.vmap(self.log_prob))(variants)  # [L, V]
        log_cond = jax.nn.log_softmax(log_p, -1)
        return jnp.take_along_axis(log_cond, x[:, None], -1)[:, 0]


def make_mixture(options: ml_collections.ConfigDict) -> MixtureSource:
    """``options.num_components`` sources of ``make_source`` with seeds ``seed + k``."""
    comps = []
    for k in range(options.get("num_components", 1)):
        opts = ml_collections.ConfigDict(options.to_dict())
        opts.seed = options.seed + k
        comps.append(make_source(opts))
    return MixtureSource(comps)


def mixture_dataset(source: MixtureSource, options: ml_collections.ConfigDict,
                    name: str) -> data_lib.Dataset:
    """Train/test ``x [N, L]`` and component ``label [N]``, equal numbers per component."""
    key = jax.random.key(options.data_seed)
    rng = np.random.default_rng(options.data_seed)
    num_k = len(source.components)
    splits = {}
    for split, n, split_key in zip(("train", "test"), (options.num_train, options.num_test),
                                   jax.random.split(key)):
        xs, labels = [], []
        for k, comp in enumerate(source.components):
            count = n // num_k + (1 if k < n % num_k else 0)
            xs.append(np.asarray(comp.sample(jax.random.fold_in(split_key, k), count,
                                             options.length)))
            labels.append(np.full(count, k, np.int32))
        order = rng.permutation(n)
        splits[split] = {"x": np.concatenate(xs)[order].astype(np.int32),
                         "label": np.concatenate(labels)[order]}
    info = data_lib.DatasetInfo(
        kind="text", event_shape=(options.length,), num_classes=num_k,
        vocab=tuple(str(i) for i in range(source.vocab_size)),
        description=f"{name}: equal mixture of {num_k} sources {options.to_dict()}; label = "
                    f"component")
    return data_lib.Dataset(name, splits["train"], splits["test"], info)


# -- Shared masked-LM plumbing ---------------------------------------------------------------


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.corrcoef(a, b)[0, 1])


class MaskedLMBase(Experiment):
    """Source, dataset, the bidirectional/causal transformer pair and shared metrics."""

    def __init__(self, config, dataset=None):
        if config.dataset.name != "markov_mixture":
            raise ValueError(f"unknown dataset {config.dataset.name!r}; these experiments use "
                             f"'markov_mixture' (config.source)")
        self.source = make_mixture(config.source)
        if dataset is None:
            dataset = mixture_dataset(self.source, config.source, config.dataset.name)
        super().__init__(config, dataset)
        self.vocab_size = self.source.vocab_size
        self.mask_id, self.bos = self.vocab_size, self.vocab_size + 1
        opts = config.model
        kwargs = dict(vocab_size=self.vocab_size + 2, output_size=self.vocab_size,
                      num_layers=opts.num_layers, width=opts.width, num_heads=opts.num_heads,
                      mlp_ratio=opts.get("mlp_ratio", 4), max_len=opts.get("max_len", 64),
                      position=opts.get("position", "rotary"))
        self.encoder = TransformerLM(causal=False, **kwargs)
        self.decoder = TransformerLM(causal=True, **kwargs)
        self.masking = config.get("masking", ml_collections.ConfigDict())
        self.eval_config = config.get("eval", ml_collections.ConfigDict())
        probe_x = jnp.asarray(self.dataset.test["x"])
        comp = np.asarray(jax.jit(jax.vmap(self.source.component_log_probs))(probe_x))
        self.bayes_accuracy = float(np.mean(comp.argmax(-1) == self.dataset.test["label"]))

    def init_model(self, key, x):
        """Parameters of the transformer (the same tree for both attention modes)."""
        return self.encoder.init(key, jnp.asarray(x[:1]))["params"]

    # -- objectives ----------------------------------------------------------------------

    def mask(self, key, x):
        """BERT masking of ``x [B, L]`` (``config.masking``): ``(inputs, target_mask)``."""
        m = self.masking
        return masked_lm.mask_tokens(key, x, self.mask_id, self.vocab_size,
                                     rate=m.get("rate", 0.15), mask_prob=m.get("mask_prob", 0.8),
                                     random_prob=m.get("random_prob", 0.1))

    def mlm_loss(self, params, x, key):
        """``[B]`` MLM loss (mean NLL over the masked positions)."""
        inputs, target = self.mask(key, x)
        logits = self.encoder.apply({"params": params}, inputs)
        return masked_lm.masked_lm_loss(logits, x, target)

    def clm_inputs(self, x):
        """``[BOS, x_<L]``: the causal model predicts ``x_t`` at position ``t``."""
        bos = jnp.full(x.shape[:1] + (1,), self.bos, x.dtype)
        return jnp.concatenate([bos, x[:, :-1]], 1)

    def clm_token_nll(self, params, x):
        """``[B, L]`` ``-log Q(x_t | x_<t)`` under the causal attention mask."""
        logits = self.decoder.apply({"params": params}, self.clm_inputs(x))
        return seq_losses.token_cross_entropy(logits, x)

    def pll_terms(self, params, x):
        r"""``[B, L]`` ``log P_MLM(x_t | x_{\t})`` (``L`` masked copies per sequence)."""
        def logits_fn(seq):
            return self.encoder.apply({"params": params}, seq[None])[0]

        return jax.vmap(lambda s: masked_lm.pseudo_log_likelihood_terms(
            logits_fn, s, self.mask_id))(x)

    def hidden(self, params, x, causal=False):
        """``[B, L, W]`` contextual embeddings of the unmasked input."""
        model = self.decoder if causal else self.encoder
        return model.apply({"params": params}, x,
                           method=lambda m, t: m.hidden_states(m.token_embeddings(t)))

    # -- set-level evaluation helpers ------------------------------------------------------

    def probe_accuracy(self, params, causal=False) -> float:
        """Test accuracy of a logistic-regression probe on mean-pooled hidden states.

        Trained on the first ``eval.probe_train`` training sequences to predict the
        mixture component (``label``); the Bayes accuracy from the true component
        likelihoods is ``bayes_accuracy``.
        """
        n = self.eval_config.get("probe_train", 2000)
        feats = jax.jit(lambda p, x: jnp.mean(self.hidden(p, x, causal), 1))
        train_x = jnp.asarray(self.dataset.train["x"][:n])
        test_x = jnp.asarray(self.dataset.test["x"])
        f_train, f_test = np.asarray(feats(params, train_x)), np.asarray(feats(params, test_x))
        mean, std = f_train.mean(0), f_train.std(0) + 1e-6
        clf = LogisticRegression(max_iter=2000, C=self.eval_config.get("probe_c", 1.0))
        clf.fit((f_train - mean) / std, self.dataset.train["label"][:n])
        return float(clf.score((f_test - mean) / std, self.dataset.test["label"]))

    def embedding_variance(self, params) -> float:
        """Mean over features of the variance over test tokens of the hidden states.

        Near 0 means collapse (every token mapped to the same embedding).
        """
        h = jax.jit(self.hidden)(params, jnp.asarray(self.dataset.test["x"]))
        h = np.asarray(h).reshape(-1, h.shape[-1])
        return float(h.var(0).mean())

    def sample_fn(self, params, key, num_samples):
        """No samples plot for token sequences."""
        return None


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
        mlm = self.mlm_loss(params["mlm"], x, key)
        clm = jnp.mean(self.clm_token_nll(params["clm"], x), -1)
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
        return {"corr_pll_true_logp": _pearson(s["pll"], s["true"]),
                "corr_clm_true_logp": _pearson(s["clm"], s["true"]),
                "corr_pll_true_pll": _pearson(s["pll"], np.asarray(true_pll)),
                "corr_true_pll_true_logp": _pearson(np.asarray(true_pll), s["true"])}


EXPERIMENT = MLMScoring
