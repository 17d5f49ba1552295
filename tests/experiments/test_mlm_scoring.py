"""MLM scoring [P239]: exact conditionals of the source against enumeration, the model's
vmapped PLL against a Python loop, the corruptions; the harness
(tests/test_experiments_e2e.py) runs runlocal and calls check_runlocal."""

import functools
import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments.mlm_scoring.experiment import MLMScoring, replace_tokens, swap_adjacent
from likelihood_jax.data.synthetic import sources
from likelihood_jax.main import load_config
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "mlm_scoring", "configs", "synthetic.py")


def get_config(mode="runlocal"):
    return load_config(f"{CONFIG}:{mode}")


@functools.lru_cache(maxsize=None)
def get_experiment():
    return MLMScoring(get_config())


def test_true_conditionals_match_enumeration_of_the_mixture():
    """log P(x_t | x_without_t) of a 2-component mixture equals the normalized joint."""
    comps = [sources.random_markov_source(s, 3, concentration=0.7) for s in (0, 1)]
    mixture = sources.MixtureSource(comps)
    seqs = sources.enumerate_sequences(3, 4)
    joint = np.exp(np.asarray(jax.vmap(mixture.log_prob)(seqs))).reshape(3, 3, 3, 3)
    np.testing.assert_allclose(joint.sum(), 1.0, rtol=1e-5)
    terms = np.asarray(jax.jit(jax.vmap(mixture.conditional_pll_terms))(seqs))
    for i, w in enumerate(itertools.product(range(3), repeat=4)):
        if i % 7:
            continue
        for t in range(4):
            idx = list(w)
            idx[t] = slice(None)
            cond = joint[tuple(idx)]
            np.testing.assert_allclose(terms[i, t], np.log(cond[w[t]] / cond.sum()),
                                       rtol=1e-4, atol=1e-5)


def test_model_pll_equals_python_loop_over_masked_copies():
    experiment = get_experiment()
    x = jnp.asarray(experiment.dataset.test["x"][:3])
    params = jax.jit(experiment.init_params)(jax.random.key(0), {"x": x})
    params = jax.tree.map(lambda p: 3.0 * p, params)  # far from uniform
    terms = jax.jit(experiment.pll_terms)(params["mlm"], x)
    apply = jax.jit(lambda s: experiment.encoder.apply({"params": params["mlm"]}, s[None])[0])
    for b in range(3):
        for t in range(x.shape[1]):
            logits = apply(x[b].at[t].set(experiment.mask_id))[t]
            np.testing.assert_allclose(terms[b, t], jax.nn.log_softmax(logits)[x[b, t]],
                                       rtol=1e-4, atol=1e-5)
    # A bidirectional model: the logit at t depends on later tokens too.
    raw = jax.jit(experiment.init_params)(jax.random.key(0), {"x": x})["mlm"]
    apply = jax.jit(lambda s: experiment.encoder.apply({"params": raw}, s)[:, 0])
    other = x.at[:, -1].set((x[:, -1] + 1) % experiment.vocab_size)
    assert float(jnp.max(jnp.abs(apply(x) - apply(other)))) > 1e-6


def test_corruptions_change_what_they_should():
    x = jnp.arange(10, dtype=jnp.int32) % 7
    for seed in range(5):
        y = replace_tokens(jax.random.key(seed), x, 3, 7)
        assert int(jnp.sum(y != x)) == 3
        assert int(jnp.max(y)) < 7
        z = swap_adjacent(jax.random.key(seed), x)
        assert sorted(np.asarray(z).tolist()) == sorted(np.asarray(x).tolist())
        diff = np.flatnonzero(np.asarray(z != x))
        assert len(diff) == 2 and diff[1] == diff[0] + 1


def check_runlocal(workdir: str) -> None:
    """The harness's run: both models learnt; the scoring metrics are in range."""
    train = train_lines(workdir)
    assert train[-1]["mlm_loss"] < train[0]["mlm_loss"]
    assert train[-1]["clm_nll"] < train[0]["clm_nll"]
    final = eval_lines(workdir)[-1]
    assert 0.0 <= final["pick_original_pll"] <= 1.0
    # The true log P ranks the original above a one-token replacement most of the time.
    assert final["rank_replace_true"] > 0.5
    assert -1.0 <= final["corr_pll_true_logp"] <= 1.0
