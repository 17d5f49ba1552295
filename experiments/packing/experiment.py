"""Best-fit packing [P152]: fewer truncations of training documents, and held-out loss.

Ding, Wang, Paolini, Kumar, Deoras, Roth & Soatto (2024), "Fewer Truncations
Improve Language Modeling" (ICML 2024, arXiv:2404.10830).

Documents are the speeches of ``shakespeare_char`` (the text between blank
lines, e.g. ``KING.`` and, on the next line, ``Wherefore hast thou accus'd him
all this while?``), each
prefixed with a BOS token (id ``V``, an input that is never predicted). The
training rows of ``config.packing.window`` tokens are built by
:func:`likelihood_jax.sequence.packing.pack` with ``config.packing.method``:

* ``"concat"``: concatenate all documents and cut every ``window`` tokens
  (the usual pipeline; a document cut by a row boundary is trained in pieces,
  the later piece without its beginning);
* ``"best_fit"``: split only documents longer than the window, then pack the
  pieces by best-fit-decreasing (no needless truncation, a little padding).

In both, ``segment_ids`` keep the documents of a row apart
(``config.packing.attention = "segment"``: a token attends only within its
document and positions restart; ``"causal"`` lets it attend across, as a plain
causal LM on concatenated text does), and the next-token loss counts only
targets inside one document (:func:`likelihood_jax.sequence.packing.next_token_mask`).
The per-row loss is the row's summed NLL over ``window - 1``, so the batch mean
weights every target token equally.

Evaluation, identical for both methods: the first ``window`` tokens of
``config.packing.num_test_docs`` evenly spaced held-out speeches, each in its
own row from its beginning. ``bits_per_char`` (headline): token-weighted bits
per character over all of them; ``bits_head``: over the first
``config.packing.head`` targets of each speech (its opening, which
concatenation often trains without its beginning); ``bits_per_doc``: per-speech
mean, averaged over speeches. ``model_metrics`` logs the packing's statistics
(rows, fill, truncated documents, needless truncations).
"""

from __future__ import annotations

import math
import re

import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence import packing
from likelihood_jax.sequence.experiment import apply_lm, make_model
from likelihood_jax.train import Experiment

ATTENTION = ("segment", "causal")


def paragraph_documents(stream: np.ndarray, vocab: tuple[str, ...]) -> list[np.ndarray]:
    """Splits a character token stream at blank lines into non-empty paragraphs (token arrays)."""
    text = "".join(vocab[i] for i in np.asarray(stream))
    index = {c: i for i, c in enumerate(vocab)}
    return [np.array([index[c] for c in p], np.int32)
            for p in re.split(r"\n\s*\n", text) if p.strip()]


class Packing(Experiment):
    """A causal transformer trained by MLE on documents packed by ``config.packing.method``."""

    headline_metric = "bits_per_char"

    def __init__(self, config, dataset=None):
        options = config.packing
        if options.attention not in ATTENTION:
            raise ValueError(f"unknown packing.attention {options.attention!r}; choose one of "
                             f"{ATTENTION}")
        del dataset  # the rows are the packing under study: always built by make_dataset
        super().__init__(config)
        self.window = int(options.window)
        self.head = int(options.head)
        self.segment_attention = options.attention == "segment"
        self._packing = None  # statistics of the packing, set by make_dataset

    def make_dataset(self, config):
        """Speeches of ``config.dataset.name``: training rows packed by ``packing.method``.

        Train: ``x`` and ``segment_ids`` ``[R, window]`` of the packed BOS-prefixed
        training speeches; test: the first ``window`` tokens of ``packing.num_test_docs``
        evenly spaced held-out speeches, one per row. Also sets :attr:`stats` and the
        mean token counts that normalize the evaluation.
        """
        options = config.packing
        stream = data_lib.load_dataset(config.dataset.name,
                                       data_dir=config.dataset.get("data_dir", None))
        vocab = stream.info.vocab
        bos = len(vocab)
        with_bos = lambda docs: [np.concatenate([[bos], d]).astype(np.int32)  # noqa: E731
                                 for d in docs]
        train_docs = with_bos(paragraph_documents(stream.train["x"], vocab))
        if options.get("num_train_docs", None):
            train_docs = train_docs[:options.num_train_docs]
        test_docs = with_bos(paragraph_documents(stream.test["x"], vocab))
        if options.num_test_docs and options.num_test_docs < len(test_docs):
            picks = np.linspace(0, len(test_docs) - 1, options.num_test_docs).astype(int)
            test_docs = [test_docs[i] for i in picks]
        train_lengths = np.array([len(d) for d in train_docs])
        packed = packing.pack(train_docs, self.window, options.method)
        stats = packing.packing_stats(packed, train_lengths)
        stats["num_documents"] = float(len(train_docs))
        stats["needless_truncation_fraction"] = (
            stats["truncated_fitting"] / max(float(np.sum(train_lengths <= self.window)), 1.0))
        test_rows = np.zeros((len(test_docs), self.window), np.int32)
        test_segments = np.zeros((len(test_docs), self.window), np.int32)
        for r, doc in enumerate(test_docs):
            doc = doc[:self.window]
            test_rows[r, :len(doc)] = doc
            test_segments[r, :len(doc)] = 1
        mask = packing.next_token_mask(test_segments)
        self._packing = {"stats": stats, "train_lengths": train_lengths,
                         "mean_test_tokens": float(mask.sum(1).mean()),
                         "mean_head_tokens": float(np.minimum(mask.sum(1), self.head).mean())}
        info = data_lib.DatasetInfo(
            kind="text", event_shape=(self.window,), vocab=vocab,
            description=f"{config.dataset.name} speeches packed by {options.method} into "
                        f"{self.window}-token rows: {stats}")
        return data_lib.Dataset(
            config.dataset.name,
            {"x": packed.tokens, "segment_ids": packed.segment_ids},
            {"x": test_rows, "segment_ids": test_segments}, info)

    def make_model(self, config, info):
        """The causal transformer of ``config.model``; inputs have one more id (BOS)."""
        vocab_size = len(info.vocab)
        return make_model(config.model, vocab_size + 1, vocab_size)

    def _packing_value(self, name):
        if self._packing is None:
            self.dataset  # noqa: B018 (building the dataset packs the documents)
        return self._packing[name]

    @property
    def vocab_size(self) -> int:
        """``V``: the characters (the output size)."""
        return len(self.dataset.info.vocab)

    @property
    def bos(self) -> int:
        """The BOS input id ``V`` that starts every document (never predicted)."""
        return self.vocab_size

    @property
    def stats(self) -> dict[str, float]:
        """The training packing's statistics (rows, fill, truncations)."""
        return self._packing_value("stats")

    @property
    def train_lengths(self) -> np.ndarray:
        """``[D]`` lengths of the BOS-prefixed training documents."""
        return self._packing_value("train_lengths")

    @property
    def mean_test_tokens(self) -> float:
        """Mean number of scored targets per test row."""
        return self._packing_value("mean_test_tokens")

    @property
    def mean_head_tokens(self) -> float:
        """Mean number of scored targets among the first ``packing.head`` of a test row."""
        return self._packing_value("mean_head_tokens")

    def init_params(self, key, batch):
        """Fresh transformer parameters."""
        x = jnp.asarray(batch["x"][:1])
        return self.model.init(key, x[:, :-1])["params"]

    def _nll(self, params, batch, train=False, key=None):
        x, seg = batch["x"], batch["segment_ids"]
        segment_ids = seg[:, :-1] if self.segment_attention else None
        logits = apply_lm(self.model, params, x[:, :-1], segment_ids=segment_ids, train=train,
                          key=key)
        mask = packing.next_token_mask(seg)
        return seq_losses.token_cross_entropy(logits, x[:, 1:], mask), mask

    def loss_fn(self, params, batch, key, step):
        """Summed in-document NLL of each row over ``window - 1`` (token-weighted mean)."""
        nll, mask = self._nll(params, batch, train=True, key=key)
        loss = jnp.sum(nll, -1) / (self.window - 1)
        return loss, {"tokens_per_row": jnp.sum(mask, -1).astype(jnp.float32)}

    def eval_fn(self, params, batch, key):
        """Bits/char of held-out speeches: token-weighted, of their openings, per speech."""
        nll, mask = self._nll(params, batch)
        mask = mask.astype(jnp.float32)
        count = jnp.sum(mask, -1)
        head = (jnp.cumsum(mask, -1) <= self.head) * mask
        ln2 = math.log(2)
        return {
            "bits_per_char": jnp.sum(nll, -1) / (self.mean_test_tokens * ln2),
            "bits_head": jnp.sum(nll * head, -1) / (self.mean_head_tokens * ln2),
            "bits_per_doc": jnp.sum(nll, -1) / jnp.maximum(count, 1.0) / ln2,
        }

    def model_metrics(self, params, key):
        """The training packing's statistics (constant over the run)."""
        return {f"pack_{k}": v for k, v in self.stats.items()}


EXPERIMENT = Packing
