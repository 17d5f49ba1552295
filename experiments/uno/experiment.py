r"""UNO: unlearning one class of a maximum-likelihood flow by gradient orthogonalization.

Mandal & Gottwald (2025), "UNO: Unlearning via Orthogonalization in Generative Models",
arXiv:2506.04712. The update rules are in :mod:`likelihood_jax.flows.unlearning`.

Two stages of one config, run by one command (``config.stages``):

1. ``pretrain``, by the shared loop: :class:`UNOFlow` is the library's maximum-likelihood
   RealNVP (:class:`likelihood_jax.flows.experiment.MLEFlow`) trained on all of ``digits``;
   the loop writes checkpoints to ``WORKDIR/pretrain/checkpoints``.
2. ``unlearn``, a :class:`~likelihood_jax.train.procedure.Procedure` (:class:`Unlearning`,
   ``config.experiment = "uno:Unlearning"``; no training loop): read the pretrained
   parameters of the stage ``unlearn.from_stage`` through
   :func:`likelihood_jax.train.stages.stage_params`, then for each method in
   ``config.unlearn.methods`` start from the same parameters and take SGD steps
   ``theta <- theta - lr * d`` with ``d`` the method's direction built from the gradients
   of the forget-set NLL (class ``config.unlearn.forget_class``) and of the
   retain-set NLL (all other classes), each on a fresh training minibatch. Stop when the
   forget-set test bits/dim has risen by ``config.unlearn.target_increase`` (checked every
   ``eval_every`` steps) or after ``max_steps``. Report forget- and retain-set test bits/dim
   before and after, the number of steps and the wall time of the update steps (compilation
   excluded) in ``WORKDIR/unlearn/unlearning.json`` (and, flattened, in its
   ``metrics.jsonl``; headline: ``uno_retain_change``).

Run both stages (a re-run after a kill skips a finished pretraining)::

    python -m likelihood_jax.main --config experiments/uno/configs/digits.py:runlocal \
        --workdir runs/uno

(``python -m experiments.uno.experiment`` takes the same flags and does the same.)
"""

from __future__ import annotations

import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.flows import unlearning
from likelihood_jax.flows.experiment import MLEFlow
from likelihood_jax.train.procedure import Procedure
from likelihood_jax.train.stages import stage_params, workdir_of


class UNOFlow(MLEFlow):
    """The pretrained model: experiments/mle_flow's RealNVP on all classes."""

    def split_by_class(self, split: str) -> tuple[dict, dict]:
        """``(forget, retain)`` subsets of a split by ``config.unlearn.forget_class``."""
        arrays = getattr(self.dataset, split)
        mask = arrays["label"] == self.config.unlearn.forget_class
        return ({k: v[mask] for k, v in arrays.items()},
                {k: v[~mask] for k, v in arrays.items()})


def restore_params(experiment: UNOFlow, workdir: str):
    """The final (EMA when enabled) parameters of the pretraining run in ``workdir``."""
    config = experiment.config
    first = data_lib.batch_at_step(experiment.dataset.train, config.batch_size, config.seed, 0)
    template = jax.eval_shape(experiment.init_params, jax.random.key(0), first)
    try:
        params = stage_params(workdir, template, optim=config.optim,
                              total_steps=config.total_steps)
    except ValueError as err:
        raise FileNotFoundError(f"no pretrained model in {workdir} ({err}); pretrain first "
                                "(the stage 'pretrain', or train_and_evaluate)") from None
    return jax.tree.map(jnp.asarray, params)


def _sample(arrays: dict, batch_size: int, rng: np.random.Generator) -> dict:
    idx = rng.integers(0, len(arrays["x"]), batch_size)
    return {"x": jnp.asarray(arrays["x"][idx])}


def run_unlearning(experiment: UNOFlow, workdir: str, out_dir: str | None = None) -> dict:
    """Unlearns ``config.unlearn.forget_class`` with every method; writes unlearning.json.

    Args:
      experiment: the pretrained flow's experiment.
      workdir: the pretraining run's workdir.
      out_dir: where ``unlearning.json`` goes (default: ``workdir``).

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

    grad = jax.jit(jax.grad(nll))  # one compile per input shape, not one per primitive

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
    results = {"before": before, "forget_class": int(cfg.forget_class)}
    if cfg.get("gradient_cosine", True):
        # Cosine between the forget and retain gradients at the pretrained parameters (whole
        # training subsets, one dequantization draw): how much the two tasks interfere.
        g_f0 = grad(params0, jnp.asarray(forget_train["x"]), eval_key)
        g_r0 = grad(params0, jnp.asarray(retain_train["x"]), eval_key)
        cosine = unlearning.tree_dot(g_f0, g_r0) / jnp.sqrt(
            unlearning.tree_dot(g_f0, g_f0) * unlearning.tree_dot(g_r0, g_r0))
        results["gradient_cosine"] = float(cosine)
    results["methods"] = {}
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
    with open(os.path.join(out_dir or workdir, "unlearning.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


def flat_results(results: dict) -> dict[str, float]:
    """``unlearning.json`` as one level of numbers: ``before_*``, ``<method>_<field>``."""
    out = {f"before_{k}": float(v) for k, v in results["before"].items()}
    if "gradient_cosine" in results:
        out["gradient_cosine"] = float(results["gradient_cosine"])
    for method, fields in results["methods"].items():
        out.update({f"{method}_{k}": float(v) for k, v in fields.items()})
    return out


class Unlearning(Procedure):
    """The ``unlearn`` stage: every method of ``config.unlearn.methods`` from the pretrained flow.

    Reads the final parameters of the stage ``config.unlearn.from_stage``; writes
    ``unlearning.json`` into its own workdir and returns :func:`flat_results`. The
    headline is UNO's change of the retain-set test bits/dim once the forget set's rose by
    ``unlearn.target_increase`` (smaller is better).
    """

    headline_metric = "uno_retain_change"

    def run(self, workdir: str) -> dict[str, float]:
        """Unlearns from the pretrained parameters; ``unlearning.json`` goes into ``workdir``."""
        source = str(self.config.unlearn.get("from_stage", "") or "")
        if not source:
            raise ValueError("the unlearn stage needs unlearn.from_stage (the pretraining stage)")
        results = run_unlearning(UNOFlow(self.config), workdir_of(self.config, source),
                                 out_dir=workdir)
        print(json.dumps(results, indent=2), flush=True)
        return flat_results(results)


EXPERIMENT = UNOFlow


def main(argv=None) -> int:
    """The command line of :mod:`likelihood_jax.main` (both stages of the config)."""
    from likelihood_jax import main as cli

    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
