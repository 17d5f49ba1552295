"""Packing experiment: paragraphs split correctly, the packings' statistics (best fit: no
needless truncation), the evaluation against a direct computation; checks on the harness's
runlocal run (``check_runlocal``; the harness imports ``tests.experiments.test_packing``)."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.packing.experiment import Packing, paragraph_documents
from likelihood_jax.main import load_config
from tests.clitools import REPO, eval_lines

CONFIG = os.path.join(REPO, "experiments", "packing", "configs", "shakespeare.py")


def test_paragraph_documents_split_at_blank_lines():
    vocab = ("\n", " ", "A", "B")
    text = "AB\nA\n\n\nB B\n \nA"
    stream = np.array([vocab.index(c) for c in text])
    docs = paragraph_documents(stream, vocab)
    assert ["".join(vocab[i] for i in d) for d in docs] == ["AB\nA", "B B", "A"]


@pytest.fixture(scope="module")
def experiments():
    out = {}
    for method in ("best_fit", "concat"):
        config = load_config(CONFIG + ":runlocal")
        config.packing.method = method
        out[method] = Packing(config)
    return out


def test_best_fit_removes_needless_truncations(experiments):
    best, concat = experiments["best_fit"].stats, experiments["concat"].stats
    assert best["truncated_fitting"] == 0
    assert concat["truncated_fitting"] > 0.1 * concat["num_documents"]
    assert best["truncated"] < concat["truncated"]
    # Best fit keeps nearly the training efficiency of concatenation.
    assert best["num_rows"] <= 1.1 * concat["num_rows"] + 1
    assert concat["fill"] == 1.0 and 0.9 < best["fill"] <= 1.0
    # Both train on the same tokens (concat drops at most its incomplete last row).
    best_tokens = np.sum(experiments["best_fit"].dataset.train["segment_ids"] > 0)
    concat_tokens = np.sum(experiments["concat"].dataset.train["segment_ids"] > 0)
    assert 0 <= best_tokens - concat_tokens < 32


def test_eval_metrics_match_a_direct_computation(experiments):
    experiment = experiments["concat"]
    test = {k: jnp.asarray(v) for k, v in experiment.dataset.test.items()}
    # Jitted (one compilation each instead of one per primitive): the same functions.
    params = jax.jit(experiment.init_params)(jax.random.key(0), test)
    out = jax.jit(experiment.eval_fn)(params, test, jax.random.key(1))
    # Independent path: each speech starts its row and padding follows it, so plain causal
    # attention over the whole row (no segment ids) gives the speech's logits.
    x, seg = np.asarray(test["x"]), np.asarray(test["segment_ids"])
    log_probs = jax.jit(lambda p, x: jax.nn.log_softmax(experiment.model.apply({"params": p}, x)))(
        params, test["x"][:, :-1])
    nll = -np.take_along_axis(np.asarray(log_probs), x[:, 1:, None], -1)[..., 0]
    lengths = seg.sum(1) - 1  # targets per speech (BOS is never predicted)
    valid = np.arange(x.shape[1] - 1)[None, :] < lengths[:, None]
    total, count = nll[valid].sum(), valid.sum()
    head_valid = valid & (np.arange(x.shape[1] - 1)[None, :] < 16)
    head, head_count = nll[head_valid].sum(), head_valid.sum()
    np.testing.assert_allclose(jnp.mean(out["bits_per_char"]), total / count / math.log(2),
                               rtol=1e-4)
    np.testing.assert_allclose(jnp.mean(out["bits_head"]), head / head_count / math.log(2),
                               rtol=1e-4)


def test_unknown_attention_is_refused():
    config = load_config(CONFIG + ":runlocal")
    config.packing.attention = "bidirectional"
    with pytest.raises(ValueError, match="attention"):
        Packing(config)


def check_runlocal(workdir: str) -> None:
    """The end-to-end harness's run: better than uniform, best fit truncates no fitting doc."""
    metrics = eval_lines(workdir)[-1]
    assert metrics["bits_per_char"] < math.log2(83)
    assert metrics["pack_truncated_fitting"] == 0
