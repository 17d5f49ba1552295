"""Meta-weighted MLE experiment: MLE limit, the meta term's gradient; the harness
(tests/test_experiments_e2e.py) runs the runlocal config and calls check_runlocal."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.meta_weighted_mle.experiment import MetaWeightedMLE, decode_names, few_shot_split
from likelihood_jax.main import load_config
from likelihood_jax.sequence import meta_weighting as mw
from tests.clitools import REPO, eval_lines

CONFIG = os.path.join(REPO, "experiments", "meta_weighted_mle", "configs", "names.py")


def test_few_shot_split_and_decoding():
    labels = np.array([0, 1, 0, 1, 0, 1, 1, 0])
    idx = few_shot_split(labels, 2, seed=0)
    assert np.bincount(labels[idx]).tolist() == [2, 2]
    with pytest.raises(ValueError, match="k_shot"):
        few_shot_split(labels, 5, seed=0)
    vocab = ("<pad>", "<end>", "a", "b")
    assert decode_names(np.array([[2, 3, 1, 2], [3, 0, 0, 0]]), vocab) == ["ab", "b"]


@pytest.mark.nightly  # about 15 s: compiles the meta-gradient step and its gradient
def test_tuning_loss_is_mle_at_start_and_carries_the_meta_gradient():
    config = load_config(CONFIG + ":runlocal")
    experiment = MetaWeightedMLE(config)
    batch = {k: jnp.asarray(v[:8]) for k, v in experiment.dataset.train.items()}
    params = experiment.init_params(jax.random.key(0), batch)
    step = jnp.int32(config.generator.pretrain_steps)
    loss_fn = jax.jit(experiment.loss_fn)
    loss, metrics = loss_fn(params, batch, jax.random.key(1), step)
    # The weighting net starts with a zero output layer: all w_t = 1, plain MLE.
    np.testing.assert_allclose(loss, metrics["nll"], rtol=1e-5)
    np.testing.assert_allclose(metrics["max_weight"], 1.0, rtol=1e-5)
    grad_fn = jax.jit(jax.grad(lambda p, s: jnp.mean(loss_fn(p, batch, jax.random.key(1),
                                                             s)[0])))
    grads = grad_fn(params, step)
    # omega's gradient is the library's meta-gradient through one inner step of the
    # tuned parameters (the label prompt offsets); the output layer is stored divided
    # by weight_lr_scale, so its gradient carries that factor (chain rule).
    _, _, inner, outer, _ = experiment.bilevel(params["lm"])
    _, want = mw.meta_gradient(experiment.weighting(params["weight_net"]),
                               experiment.tunable(params["lm"]), inner, outer,
                               config.meta.inner_lr)
    scale = config.meta.weight_lr_scale
    want = {**want, "w2": want["w2"] * scale, "b2": want["b2"] * scale}
    size = max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(want))
    assert size > 0
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * size),
                 grads["weight_net"], want)
    # The softmax normalization makes the weights invariant to the output bias.
    assert abs(float(grads["weight_net"]["b2"])) < 1e-4 * size
    # Prompt tuning: only the label rows of the embedding table get a gradient.
    table = np.asarray(grads["lm"]["embed"]["embedding"])
    rows = np.abs(table).sum(-1)
    labels = slice(experiment.letters, experiment.unlabeled_token)
    assert np.all(rows[labels] > 0) and rows.sum() == rows[labels].sum()
    others = [g for path, g in jax.tree_util.tree_leaves_with_path(grads["lm"])
              if "embed" not in jax.tree_util.keystr(path)]
    assert all(float(jnp.max(jnp.abs(g))) == 0 for g in others)
    # Pretraining: the weighting net gets no gradient.
    pre = grad_fn(params, jnp.int32(0))
    assert all(float(jnp.max(jnp.abs(g))) == 0 for g in jax.tree.leaves(pre["weight_net"]))
    config.generator.objective = "bogus"
    with pytest.raises(ValueError, match="objective"):
        MetaWeightedMLE(config)


def test_label_prompt_is_the_pretrained_prompt_plus_an_offset():
    config = load_config(CONFIG + ":runlocal")
    experiment = MetaWeightedMLE(config)
    batch = {k: jnp.asarray(v[:4]) for k, v in experiment.dataset.train.items()}
    lm = experiment.init_params(jax.random.key(0), batch)["lm"]
    table = lm["embed"]["embedding"]
    baked = experiment.baked(lm)["embed"]["embedding"]
    u = experiment.unlabeled_token
    scale = config.generator.prompt_scale
    np.testing.assert_allclose(baked[experiment.letters],
                               scale * table[experiment.letters] + table[u], rtol=1e-6)
    np.testing.assert_array_equal(baked[:experiment.letters], table[:experiment.letters])
    np.testing.assert_array_equal(baked[u], table[u])
    offsets = experiment.tunable(lm) + 1.0
    back = experiment.with_tuned(offsets, lm)["embed"]["embedding"]
    np.testing.assert_allclose(back[experiment.letters:u], offsets)


def check_runlocal(workdir: str) -> None:
    """The harness's run: the classifier accuracies and label fidelity are fractions."""
    final = eval_lines(workdir)[-1]
    for name in ("acc_fewshot", "acc_augmented", "acc_oracle", "label_fidelity",
                 "novel_fraction", "gen_accuracy"):
        assert 0.0 <= final[name] <= 1.0, name
    assert np.isfinite(final["gen_nll"])
