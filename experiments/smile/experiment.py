"""SMILE [P016]: semipermeable MLE against MLE on a synthetic attribute-captioning task.

Yue, Hu, Zhang & Jin (2023), "Learning Descriptive Image Captioning via Semipermeable
Maximum Likelihood Estimation" (ICCV 2023, arXiv:2306.13460). The loss is
:func:`likelihood_jax.sequence.objectives.semipermeable_cross_entropy`: the softmax at
every position restricted to ``V(y)``, the tokens of the reference caption.

The task (the registered dataset ``"attribute_captions"``,
:mod:`likelihood_jax.data.synthetic.captions`): an "image" is a set of present attributes
among ``A`` (each present with probability ``p_present``, at least 2), given to
the encoder as ``A`` tokens ``2 a + present_a``. Its reference captions are
*concise*: each mentions a random subset of the present attributes (each with
probability ``p_mention``, at least one), in increasing attribute order, then
``<eos>``. Several references per image (``refs_per_image``), as in MSCOCO. A
model trained by MLE on such references learns to say little; the paper's
claim is that SMILE produces longer, more descriptive captions. Measured on
held-out images with greedy decoding: caption length (attribute tokens before
``<eos>``), attribute recall (present attributes mentioned / present),
precision (mentioned attributes that are present / mentioned) and the
teacher-forced MLE NLL of the held-out references.

Objectives (``config.objective``): ``name="mle"``; ``name="smile"`` with
``first_token_mle`` (the authors' option) and ``mle_steps``: train by MLE for the
first ``mle_steps`` steps and by SMILE afterwards (the paper fine-tunes an
MLE-trained captioner with SMILE; ``mle_steps=0`` is SMILE from scratch), and
``mle_weight``: after the MLE phase the loss is
``mle_weight * MLE + (1 - mle_weight) * SMILE`` (the authors' released
"MLE+SMILE" checkpoint uses 0.01 : 0.99 as a compromise between
descriptiveness and accuracy; 0 is pure SMILE).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax.data.synthetic.captions import BOS, EOS, FIRST_ATTRIBUTE, PAD
from likelihood_jax.models.seq2seq import Seq2Seq, greedy_decode
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import apply_lm
from likelihood_jax.train.experiment import Experiment

OBJECTIVES = ("mle", "smile")


def caption_metrics(tokens: jax.Array, present: jax.Array) -> dict[str, jax.Array]:
    """Length, recall, precision, repeats of decoded captions ``[B, L]``; ``present [B, A]``.

    A caption ends at its first ``<eos>`` (or at ``L``); only attribute tokens count.
    """
    num_attributes = present.shape[-1]
    before_eos = jnp.cumsum(tokens == EOS, axis=-1) == 0
    is_attribute = (tokens >= FIRST_ATTRIBUTE) & before_eos
    length = jnp.sum(is_attribute, -1).astype(jnp.float32)
    said = jax.nn.one_hot(jnp.where(is_attribute, tokens - FIRST_ATTRIBUTE, num_attributes),
                          num_attributes + 1)[..., :num_attributes]
    counts = jnp.sum(said, axis=-2)  # [B, A]
    mentioned = counts > 0
    hits = jnp.sum(mentioned & present, -1).astype(jnp.float32)
    num_mentioned = jnp.sum(mentioned, -1).astype(jnp.float32)
    return {
        "length": length,
        "recall": hits / jnp.maximum(jnp.sum(present, -1), 1),
        "precision": jnp.where(num_mentioned > 0, hits / jnp.maximum(num_mentioned, 1), 0.0),
        "hallucinated": num_mentioned - hits,
        "repeats": length - num_mentioned,
        "ends": jnp.any(tokens == EOS, -1).astype(jnp.float32),
    }


class Smile(Experiment):
    """A tiny encoder-decoder captioner trained by MLE or SMILE."""

    headline_metric = "recall"

    def __init__(self, config, dataset=None):
        objective = config.objective
        if objective.name not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective.name!r}; choose one of {OBJECTIVES}")
        if not 0.0 <= objective.mle_weight <= 1.0:
            raise ValueError(f"objective.mle_weight must be in [0, 1], got {objective.mle_weight}")
        if objective.mle_steps < 0:
            raise ValueError(f"objective.mle_steps must be >= 0, got {objective.mle_steps}")
        super().__init__(config, dataset=dataset)
        self.num_attributes = int(config.dataset.num_attributes)
        self.max_len = self.num_attributes + 1

    def make_model(self, config, info):
        """The encoder-decoder of ``config.model`` over the task's vocabularies."""
        del info
        m = config.model
        return Seq2Seq(source_vocab_size=2 * self.num_attributes,
                       target_vocab_size=self.num_attributes + FIRST_ATTRIBUTE,
                       num_encoder_layers=m.num_encoder_layers,
                       num_decoder_layers=m.num_decoder_layers, width=m.width,
                       num_heads=m.num_heads, dropout=m.get("dropout", 0.0))

    def _inputs(self, captions):
        return jnp.concatenate([jnp.full_like(captions[:, :1], BOS), captions[:, :-1]], axis=1)

    def init_params(self, key, batch):  # noqa: D102
        return self.model.init(key, jnp.asarray(batch["source"]),
                               self._inputs(jnp.asarray(batch["x"])))["params"]

    def _logits_and_mask(self, params, batch, key=None):
        """Logits, captions and loss mask; a training call (dropout on) when given ``key``."""
        captions = batch["x"]
        logits = apply_lm(self.model, params, batch["source"], self._inputs(captions),
                          train=key is not None, key=key)
        # Train up to and including <eos>: positions whose previous target was not <eos>.
        after_eos = jnp.cumsum(captions == EOS, axis=-1) - (captions == EOS)
        return logits, captions, (after_eos == 0).astype(jnp.float32)

    def loss_fn(self, params, batch, key, step):
        """Per-caption mean token loss ``[B]``: MLE, or SMILE after ``mle_steps`` MLE steps."""
        logits, captions, mask = self._logits_and_mask(params, batch, key)
        nll = seq_losses.masked_mean(seq_losses.token_cross_entropy(logits, captions, mask), mask)
        objective = self.config.objective
        if objective.name == "mle":
            return nll, {"nll": nll}
        smile = seq_losses.masked_mean(seq_losses.semipermeable_cross_entropy(
            logits, captions, mask, first_token_mle=bool(objective.first_token_mle)), mask)
        mixed = objective.mle_weight * nll + (1.0 - objective.mle_weight) * smile
        loss = jnp.where(step < objective.mle_steps, nll, mixed)
        return loss, {"nll": nll, "smile": smile}

    def eval_fn(self, params, batch, key):
        """Greedy captions of the test images: length, recall, precision; and the NLL."""
        logits, captions, mask = self._logits_and_mask(params, batch)
        tokens = greedy_decode(self.model, params, batch["source"], bos_id=BOS,
                               max_len=self.max_len, eos_id=EOS, pad_id=PAD)
        out = caption_metrics(tokens, batch["present"])
        out["nll"] = seq_losses.masked_mean(
            seq_losses.token_cross_entropy(logits, captions, mask), mask)
        reference = caption_metrics(captions, batch["present"])
        out["reference_length"] = reference["length"]
        out["reference_recall"] = reference["recall"]
        return out


EXPERIMENT = Smile
