r"""UNO: unlearning one class of a maximum-likelihood flow by gradient orthogonalization.

Mandal & Gottwald (2025), "UNO: Unlearning via Orthogonalization in Generative Models",
arXiv:2506.04712. The update rules are in :mod:`likelihood_jax.flows.unlearning`.

Two phases:

1. **Pretraining** by the shared loop: :class:`UNOFlow` is experiments/mle_flow's RealNVP
   (imported, not copied) trained by maximum likelihood on all of ``digits``; the loop writes
   checkpoints to ``workdir/checkpoints``.
2. **Unlearning** (:func:`run_unlearning`, not the loop's job): restore the newest checkpoint,
   then for each method in ``config.unlearn.methods`` start from the same parameters and take
   SGD steps ``theta <- theta - lr * d`` with ``d`` the method's direction built from the
   gradients of the forget-set NLL (class ``config.unlearn.forget_class``) and of the
   retain-set NLL (all other classes), each on a fresh training minibatch. Stop when the
   forget-set test bits/dim has risen by ``config.unlearn.target_increase`` (checked every
   ``eval_every`` steps) or after ``max_steps``. Report forget- and retain-set test bits/dim
   before and after, the number of steps and the wall time of the update steps (compilation
   excluded) in ``workdir/unlearning.json``.

Run both phases::

    python -m experiments.uno.experiment --config experiments/uno/configs/digits.py:runlocal \
        --workdir runs/uno
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.flows import unlearning
from likelihood_jax.flows.experiment import MLEFlow
from likelihood_jax.train import loop
from likelihood_jax.train.checkpoints import Checkpoints


class UNOFlow(MLEFlow):
    """The pretrained model: experiments/mle_flow's RealNVP on all classes."""

    def split_by_class(self, split: str) -> tuple[dict, dict]:
        """``(forget, retain)`` subsets of a split by ``config.unlearn.forget_class``."""
        arrays = getattr(self.dataset, split)
        mask = arrays["label"] == self.config.unlearn.forget_class
        return ({k: v[mask] for k, v in arrays.items()},
                {k: v[~mask] for k, v in arrays.items()})


def restore_params(experiment: UNOFlow, workdir: str):
    """The (EMA when enabled) parameters of the newest checkpoint the loop wrote."""
    run = loop.make_run(experiment)
    checkpoints = Checkpoints(os.path.join(workdir, loop.CHECKPOINT_DIR))
    try:
        state = checkpoints.restore_latest(loop.init_state(run))
    finally:
        checkpoints.close()
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {workdir}/{loop.CHECKPOINT_DIR}; "
                                "pretrain first (train_and_evaluate)")
    return state.ema_params if experiment.config.get("ema_decay", 0.0) else state.params


def _sample(arrays: dict, batch_size: int, rng: np.random.Generator) -> dict:
    idx = rng.integers(0, len(arrays["x"]), batch_size)
    return {"x": jnp.asarray(arrays["x"][idx])}


def run_unlearning(experiment: UNOFlow, workdir: str) -> dict:
    """Unlearns ``config.unlearn.forget_class`` with every method; writes unlearning.json.

    Returns:
        ``{"before": {...}, "methods": {method: {...}}}`` with test bits/dim of the forget
        and retain sets, steps, wall time and whether the target was reached.
    """
    cfg = experiment.config.unlearn
    params0 = restore_params(experiment, workdir)
    forget_train, retain_train = experiment.split_by_class("train")
    forget_test, retain_test = experiment.split_by_class("test")
    classes = [c for c in np.unique(retain_train["label"])]
    eval_key = jax.random.key(12345)

    @jax.jit
    def bits_per_dim(params, x):
        inputs = experiment.preprocess({"x": x}, eval_key)
        return jnp.mean(experiment.eval_fn(params, inputs, eval_key)["bits_per_dim"])

    def evaluate(params):
        return {"forget_bpd": float(bits_per_dim(params, jnp.asarray(forget_test["x"]))),
                "retain_bpd": float(bits_per_dim(params, jnp.asarray(retain_test["x"])))}

    def nll(params, x, key):
        v = experiment.preprocess({"x": x}, key)["x"]
        return -jnp.mean(experiment.per_example_log_prob(params, v))

    grad = jax.grad(nll)

    def make_step(method):
        @jax.jit
        def step(params, forget_x, retain_xs, key):
            keys = jax.random.split(key, 1 + len(retain_xs))
            g_f = grad(params, forget_x, keys[0])
            g_rs = [grad(params, x, k) for x, k in zip(retain_xs, keys[1:])]
            g_r = g_rs if method == "uno_subspace" else jax.tree.map(
                lambda *xs: sum(xs) / len(xs), *g_rs)
            d = unlearning.unlearning_direction(method, g_f, g_r, cfg.retain_weight)
            return jax.tree.map(lambda p, u: p - cfg.lr * u, params, d)
        return step

    before = evaluate(params0)
    # Cosine between the forget and retain gradients at the pretrained parameters (whole
    # training subsets, one dequantization draw): how much the two tasks interfere.
    g_f0 = grad(params0, jnp.asarray(forget_train["x"]), eval_key)
    g_r0 = grad(params0, jnp.asarray(retain_train["x"]), eval_key)
    cosine = unlearning.tree_dot(g_f0, g_r0) / jnp.sqrt(
        unlearning.tree_dot(g_f0, g_f0) * unlearning.tree_dot(g_r0, g_r0))
    results = {"before": before, "forget_class": int(cfg.forget_class),
               "gradient_cosine": float(cosine), "methods": {}}
    for method in cfg.methods:
        rng = np.random.default_rng(experiment.config.seed)
        step = make_step(method)

        def retain_batches():
            if method == "uno_subspace":  # one retain gradient per retained class
                per = max(1, cfg.batch_size // len(classes))
                return [_sample({k: v[retain_train["label"] == c]
                                 for k, v in retain_train.items()}, per, rng)["x"]
                        for c in classes]
            return [_sample(retain_train, cfg.batch_size, rng)["x"]]

        params = params0
        key = jax.random.key(experiment.config.seed)
        # Compile outside the timed region (the result is discarded).
        jax.block_until_ready(step(params, _sample(forget_train, cfg.batch_size, rng)["x"],
                                   retain_batches(), key))
        elapsed, steps, now = 0.0, 0, before
        reached = False
        while steps < cfg.max_steps:
            forget_x = _sample(forget_train, cfg.batch_size, rng)["x"]
            retain_xs = retain_batches()
            key, sub = jax.random.split(key)
            start = time.perf_counter()
            params = jax.block_until_ready(step(params, forget_x, retain_xs, sub))
            elapsed += time.perf_counter() - start
            steps += 1
            if steps % cfg.eval_every == 0 or steps == cfg.max_steps:
                now = evaluate(params)
                if now["forget_bpd"] - before["forget_bpd"] >= cfg.target_increase:
                    reached = True
                    break
        results["methods"][method] = {
            **now, "steps": steps, "wall_time_s": elapsed, "reached_target": reached,
            "forget_increase": now["forget_bpd"] - before["forget_bpd"],
            "retain_change": now["retain_bpd"] - before["retain_bpd"]}
    with open(os.path.join(workdir, "unlearning.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


EXPERIMENT = UNOFlow


def main(argv=None) -> None:
    """Pretrains (resuming) with the shared loop, then runs the unlearning comparison."""
    from likelihood_jax.main import load_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    experiment = UNOFlow(config)
    loop.train_and_evaluate(experiment, args.workdir)
    results = run_unlearning(experiment, args.workdir)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
