"""Membership inference [P105, P251]: the member split, the per-sequence scores against the
scoring functions and numpy, the zlib baseline, the experiment's data; the harness
(tests/test_experiments_e2e.py) runs runlocal and calls check_runlocal. The math of Min-K%
and Min-K%++ is tested in tests/test_scoring.py."""

import os
import zlib

import jax
import numpy as np
import pytest

from experiments.membership_inference.experiment import MembershipInference
from likelihood_jax.main import load_config
from likelihood_jax.predictive import membership
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "membership_inference", "configs", "shakespeare.py")


def test_membership_split_draws_distinct_windows_half_members():
    windows = np.arange(40).reshape(20, 2)  # every row distinct
    members, texts, is_member = membership.membership_split(windows, 6, seed=3)
    assert members.shape == (6, 2) and texts.shape == (12, 2)
    np.testing.assert_array_equal(is_member, [1] * 6 + [0] * 6)
    np.testing.assert_array_equal(texts[:6], members)
    assert len({tuple(r) for r in texts}) == 12                      # no window twice
    assert {tuple(r) for r in texts} <= {tuple(r) for r in windows}  # rows of the corpus
    again = membership.membership_split(windows, 6, seed=3)[1]
    other = membership.membership_split(windows, 6, seed=4)[1]
    np.testing.assert_array_equal(again, texts)
    assert not np.array_equal(other, texts)
    with pytest.raises(ValueError, match="num_members"):
        membership.membership_split(windows, 11, seed=0)
    with pytest.raises(ValueError, match="windows"):
        membership.membership_split(windows[0], 1, seed=0)


def test_sequence_scores_gather_the_targets_and_match_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 10, 6)) * 2
    log_probs = (logits - np.log(np.exp(logits).sum(-1, keepdims=True))).astype(np.float32)
    targets = rng.integers(0, 6, (2, 10))
    scores = jax.jit(jax.vmap(lambda lp, t: membership.sequence_scores(lp, t, k=0.2)))(
        log_probs, targets)
    assert set(scores) == set(membership.SCORES)
    lp64 = log_probs.astype(np.float64)
    token = np.take_along_axis(lp64, targets[..., None], -1)[..., 0]       # (2, 10)
    p = np.exp(lp64)
    mu = (p * lp64).sum(-1)
    sigma = np.sqrt((p * (lp64 - mu[..., None]) ** 2).sum(-1))
    np.testing.assert_allclose(scores["mean_log_prob"], token.mean(-1), rtol=1e-5)
    np.testing.assert_allclose(scores["min_k"], np.sort(token, -1)[:, :2].mean(-1), rtol=1e-5)
    np.testing.assert_allclose(scores["min_k_pp"],
                               np.sort((token - mu) / sigma, -1)[:, :2].mean(-1), rtol=1e-4)


def test_zlib_ratio_divides_the_log_probability_by_the_compressed_size():
    vocab = ("a", "b", " ")
    texts = np.array([[0, 0, 0, 0, 0, 0], [0, 1, 2, 1, 0, 2]])
    sizes = [len(zlib.compress(s.encode(), 9)) for s in ("aaaaaa", "ab ba ")]
    np.testing.assert_array_equal(membership.zlib_bytes(texts, vocab), sizes)
    np.testing.assert_allclose(membership.zlib_ratio(np.array([-3.0, -6.0]), texts, vocab),
                               [-3.0 / sizes[0], -6.0 / sizes[1]])


def test_experiment_trains_on_the_members_and_tests_on_both():
    experiment = MembershipInference(load_config(f"{CONFIG}:runlocal"))
    data = experiment.dataset
    num = experiment.config.dataset.num_members
    assert data.train["x"].shape == (num, experiment.config.model.context + 1)
    np.testing.assert_array_equal(data.test["x"][data.test["member"] == 1], data.train["x"])
    non_members = {tuple(r) for r in data.test["x"][data.test["member"] == 0]}
    assert len(non_members) == num and not non_members & {tuple(r) for r in data.train["x"]}
    assert experiment.headline_metric == "auroc_min_k_pp"


def check_runlocal(workdir: str) -> None:
    """The harness's run: the LM learnt; every AUROC is in [0, 1], the NLLs are finite."""
    train = train_lines(workdir)
    assert train[-1]["loss"] < train[0]["loss"]
    final = eval_lines(workdir)[-1]
    for name in (*membership.SCORES, "zlib"):
        assert 0.0 <= final[f"auroc_{name}"] <= 1.0
    assert np.isfinite(final["member_nll"]) and np.isfinite(final["nonmember_nll"])
