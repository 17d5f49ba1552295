"""Knowledge transfer over finite domains [P050]: a tabular student at one privilege level.

Zhao & Zhu (2024), "Towards the fundamental limits of knowledge transfer over
finite domains". A teacher ``pi*(a | s)`` over finite ``S x A`` and an input
distribution ``rho`` give ``n`` samples ``(s_i, a_i)`` (the registered dataset
``"finite_domain"``, :mod:`likelihood_jax.data.synthetic.finite_domain`; options in
``config.dataset``); the student is a logit
table ``z [S, A]`` (``pi = softmax(z)``), initialized at 0 (uniform), trained in
the shared loop on the full sample (``batch_size = n``) with one privilege
level's loss, ``objective.name`` in
:data:`likelihood_jax.sequence.distillation.PRIVILEGE_LEVEL_LOSSES`:
``ce_sgl`` (hard labels, MLE), ``ce_ptl`` (naive CE weighted by
``pi*(a_i | s_i)``), ``sel_ptl`` (squared error of normalized logits at the sampled
label), ``ce_ful`` (KL to the full row ``pi*(. | s_i)``).

Evaluation: ``tv = TV(pi, pi* | rho)`` of the trained table (eq. 2.1; the test
split is the list of inputs, each weighted by ``rho(s)``), and in
``model_metrics`` the TV of the paper's closed-form estimator on the same sample
(``tv_closed_form``; the trained table should approach it) and ``tv_gap`` (max
abs difference of the two tables). ``write_artifacts`` runs the Monte Carlo rate
sweep of :mod:`experiments.finite_domain_kd.simulation` (closed-form learners,
many repeats per ``n``, for the teachers in ``config.sweep.kinds``) and writes
``rates.json`` (risk, slope of log risk vs log n, risk / stated rate) and
``rates.png``.
"""

from __future__ import annotations

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments.finite_domain_kd import simulation as sim
from likelihood_jax.data.synthetic import finite_domain
from likelihood_jax.sequence import distillation as kd
from likelihood_jax.train.experiment import Experiment


class FiniteDomainKD(Experiment):
    """A tabular student of a finite teacher, trained at one privilege level."""

    headline_metric = "tv"

    def __init__(self, config, dataset=None):
        self.objective = config.objective.name
        if self.objective not in kd.PRIVILEGE_LEVEL_LOSSES:
            raise ValueError(f"unknown objective {self.objective!r}; choose one of "
                             f"{kd.PRIVILEGE_LEVEL_LOSSES}")
        if int(config.batch_size) != int(config.dataset.n):
            raise ValueError(f"batch_size ({config.batch_size}) must equal dataset.n "
                             f"({config.dataset.n}): the student minimizes the empirical loss "
                             "of the whole sample")
        super().__init__(config, dataset)

    @functools.cached_property
    def teacher(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rho [S], pi* [S, A])``: the teacher of the dataset's options."""
        return finite_domain.dataset_teacher(**self.config.dataset)

    @property
    def rho(self) -> np.ndarray:
        """``[S]`` the input distribution."""
        return self.teacher[0]

    @property
    def pi(self) -> np.ndarray:
        """``[S, A]`` the teacher's rows ``pi*(. | s)``."""
        return self.teacher[1]

    @functools.cached_property
    def teacher_log_probs(self) -> np.ndarray:
        """``[S, A]`` ``log pi*`` (float32; ``-inf`` at zero mass)."""
        with np.errstate(divide="ignore"):
            return np.log(self.pi).astype(np.float32)

    def check_data(self, info):
        """The tabular data carries no event shape to check."""

    def init_params(self, key, batch):
        """A zero logit table: the uniform student of the paper's inductive bias."""
        return {"logits": jnp.zeros(self.pi.shape, jnp.float32)}

    def loss_fn(self, params, batch, key, step):
        """The privilege level's per-sample loss; logs the student's NLL of the samples."""
        s, a = batch["s"], batch["a"]
        logits = params["logits"][s]
        # Zero-mass labels are never sampled; clip -inf so that 0 * -inf never appears.
        teacher = jnp.maximum(jnp.asarray(self.teacher_log_probs)[s], -1e30)
        loss = kd.privilege_level_loss(self.objective, logits, a, teacher)
        nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), a[:, None], -1)[:, 0]
        return loss, {"nll": nll}

    def eval_fn(self, params, batch, key):
        """``|S| rho(s) TV(pi(. | s), pi*(. | s))`` per input (mean over S: ``TV(. | rho)``)."""
        s = batch["s"]
        q = jax.nn.softmax(params["logits"][s], -1)
        tv = 0.5 * jnp.sum(jnp.abs(q - jnp.asarray(self.pi, jnp.float32)[s]), -1)
        return {"tv": tv * batch["rho"] * self.pi.shape[0]}

    def closed_form(self) -> np.ndarray:
        """The paper's closed-form estimator of this objective on the training sample."""
        counts = np.zeros(self.pi.shape)
        np.add.at(counts, (self.dataset.train["s"], self.dataset.train["a"]), 1)
        return sim.closed_form(self.objective, counts, self.pi)

    def model_metrics(self, params, key):
        """TV of the closed-form learner on the same sample, and its gap to the trained table."""
        q = np.asarray(jax.nn.softmax(params["logits"], -1), np.float64)
        est = self.closed_form()
        return {"tv_closed_form": float(sim.tv_risk(est, self.pi, self.rho)),
                "tv_gap": float(np.max(np.abs(q - est)))}

    def write_artifacts(self, params, workdir):
        """The Monte Carlo risk-vs-n sweep of the closed-form learners: rates.json, rates.png."""
        sweep = self.config.get("sweep", None)
        if sweep is None or not sweep.get("enabled", True):
            return
        s = self.config.dataset
        ns = [int(n) for n in sweep.ns]
        results = [sim.rate_sweep(kind, s.num_s, s.num_a, ns, int(sweep.repeats),
                                  int(sweep.seed), s.concentration)
                   for kind in sweep.kinds]
        with open(os.path.join(workdir, "rates.json"), "w") as f:
            json.dump(results, f, indent=1)
        _plot_rates(os.path.join(workdir, "rates.png"), results)


def _plot_rates(path, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.4), squeeze=False)
    for ax, res in zip(axes[0], results):
        for learner in sim.LEARNERS:
            risk = np.asarray(res["risk"][learner])
            keep = risk > 0
            if keep.any():
                slope = res["slope"][learner]
                ax.loglog(np.asarray(res["ns"])[keep], risk[keep], "o-",
                          label=f"{learner} ({slope:.2f})")
        ax.set_title(res["kind"])
        ax.set_xlabel("n")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("E TV(pi_hat, pi* | rho)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


EXPERIMENT = FiniteDomainKD
