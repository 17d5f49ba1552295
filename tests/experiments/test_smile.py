"""SMILE experiment: the data is concise, the metrics are right; the harness
(tests/test_experiments_e2e.py) runs runlocal and calls check_runlocal."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.smile.experiment import EOS, Smile, caption_metrics
from likelihood_jax.data.synthetic.captions import make_captions
from likelihood_jax.main import load_config
from likelihood_jax.sequence import objectives as seq_losses
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "smile", "configs", "captions.py")


def test_references_mention_a_sorted_subset_of_the_present_attributes():
    d = make_captions(50, 8, 0.5, 0.35, 3, seed=0)
    assert d["caption"].shape == (150, 9) and d["source"].shape == (150, 8)
    np.testing.assert_array_equal(d["source"] % 2, d["present"])
    for caption, present in zip(d["caption"], d["present"]):
        end = int(np.flatnonzero(caption == EOS)[0])
        words = caption[:end] - 3
        assert end >= 1 and np.all(np.diff(words) > 0) and np.all(present[words])
        assert np.all(caption[end + 1:] == 0)
    assert np.all(d["present"].sum(-1) >= 2)
    lengths = (d["caption"] >= 3).sum(-1)
    assert lengths.mean() < 0.6 * d["present"].sum(-1).mean()  # concise references


def test_caption_metrics_by_hand():
    present = jnp.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
    # Row 0: a0 a2 a0 <eos> a3 -> 3 attribute tokens, 2 distinct, 1 hit, 1 hallucination.
    tokens = jnp.array([[3, 5, 3, EOS, 6], [3, 0, 0, 0, 0]])
    m = caption_metrics(tokens, present)
    np.testing.assert_allclose(m["length"], [3, 1])
    np.testing.assert_allclose(m["recall"], [1 / 3, 1.0])
    np.testing.assert_allclose(m["precision"], [0.5, 1.0])
    np.testing.assert_allclose(m["hallucinated"], [1, 0])
    np.testing.assert_allclose(m["repeats"], [1, 0])
    np.testing.assert_allclose(m["ends"], [1, 0])


def test_loss_switches_from_mle_to_smile_and_mle_objective():
    config = load_config(CONFIG + ":runlocal")
    experiment = Smile(config)
    batch = {k: jnp.asarray(v[:16]) for k, v in experiment.dataset.train.items()}
    params = experiment.init_params(jax.random.key(0), batch)
    early, m = experiment.loss_fn(params, batch, jax.random.key(1), jnp.int32(0))
    late, m2 = experiment.loss_fn(params, batch, jax.random.key(1),
                                  jnp.int32(config.objective.mle_steps))
    np.testing.assert_allclose(early, m["nll"], rtol=1e-6)
    np.testing.assert_allclose(late, m2["smile"], rtol=1e-6)
    assert np.all(np.asarray(late) < np.asarray(early))  # fewer competitors in the softmax
    # The SMILE loss is the library's on the reference's tokens up to <eos>.
    captions = batch["x"]
    logits = experiment.model.apply({"params": params}, batch["source"],
                                    experiment._inputs(captions))
    after = jnp.cumsum(captions == EOS, -1) - (captions == EOS)
    mask = (after == 0).astype(jnp.float32)
    want = seq_losses.masked_mean(seq_losses.semipermeable_cross_entropy(
        logits, captions, mask, first_token_mle=True), mask)
    np.testing.assert_allclose(late, want, rtol=1e-5)
    config.objective.name = "bogus"
    with pytest.raises(ValueError, match="objective"):
        Smile(config)


def check_runlocal(workdir: str) -> None:
    """The harness's run (MLE, then SMILE): its NLL fell; caption metrics are in range."""
    train = train_lines(workdir)
    assert train[-1]["nll"] < train[0]["nll"]
    final = eval_lines(workdir)[-1]
    assert 0.0 <= final["recall"] <= 1.0 and 0.0 <= final["precision"] <= 1.0
    assert final["length"] > 0


def test_registered_dataset_is_make_captions_of_its_options():
    from likelihood_jax import data as data_lib

    ds = data_lib.load_dataset("attribute_captions", num_attributes=6, num_train_images=20,
                               num_test_images=5, refs_per_image=2, data_seed=3)
    train = make_captions(20, 6, 0.5, 0.35, 2, seed=3)
    test = make_captions(5, 6, 0.5, 0.35, 1, seed=4)
    np.testing.assert_array_equal(ds.train["x"], train["caption"])
    np.testing.assert_array_equal(ds.train["source"], train["source"])
    np.testing.assert_array_equal(ds.test["x"], test["caption"])
    np.testing.assert_array_equal(ds.test["present"], test["present"])
    assert ds.info.event_shape == (7,) and len(ds.info.vocab) == 9
