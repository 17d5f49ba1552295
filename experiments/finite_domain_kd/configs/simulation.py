"""Knowledge transfer over finite domains [P050]: privilege levels on a random S x A teacher.

Zhao & Zhu (2024), "Towards the fundamental limits of knowledge transfer over
finite domains" (ICLR 2024). A tabular student learns a random teacher
(``dataset.kind="random"``: rows ~ Dirichlet(1), ``rho`` uniform) from ``dataset.n``
samples with one privilege level's loss (``objective.name``: ``ce_sgl``,
``ce_ptl``, ``sel_ptl``, ``ce_ful``), trained full-batch in the shared loop;
``write_artifacts`` adds the Monte Carlo sweep of the closed-form learners' TV risk
against ``n`` on the paper's teachers (random, Instance 1/2/3 of Appendix F),
with log-log slopes to compare with the stated rates ``sqrt(|S||A|/n)`` (hard
labels), ``|S||A|/n`` (partial soft labels, SEL), ``|S|/n`` (soft labels).
Default (|S| = |A| = 10, n = 1000) reached: trained-student TV 0.1078 (ce_sgl),
0.2301 (ce_ptl, biased), 0.00069 (sel_ptl), 0.00025 (ce_ful); sweep slopes -0.505 (ce_sgl
on Instance 1), -1.000 (sel_ptl on Instance 2), -0.936 (ce_ful on Instance 3). Modes:
``runlocal`` (tests), default (README), ``full`` (paper scale: |S| = 100, |A| = 25).
Numbers and commands: experiments/finite_domain_kd/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("finite_domain_kd", dataset="finite_domain")
    config.dataset.update({
        "kind": "random", "num_s": 10, "num_a": 10, "n": 1000, "concentration": 1.0,
        "teacher_seed": 0, "data_seed": 1,
    })
    config.objective = ml_collections.ConfigDict({"name": "sel_ptl"})
    config.sweep = ml_collections.ConfigDict({
        "enabled": True, "kinds": ("random", "instance1", "instance2", "instance3"),
        "ns": (100, 316, 1000, 3162, 10000, 31623, 100000), "repeats": 2000, "seed": 0,
    })
    config.optim.lr = 0.1
    config.optim.schedule = "constant"
    config.batch_size = config.dataset.n
    config.eval_batch_size = 1000
    config.num_plot_samples = 0
    apply_mode(config, arg, {
        "runlocal": runlocal(100, {"dataset.num_s": 4, "dataset.num_a": 5, "dataset.n": 200,
                                   "sweep.ns": (100, 300, 1000), "sweep.repeats": 50,
                                   "sweep.kinds": ("random", "instance2")},
                             batch_size=200, num_plot_samples=0),
        "default": {"total_steps": 3000, "log_every": 250, "checkpoint_every": 3000},
        "full": {"dataset.num_s": 100, "dataset.num_a": 25, "dataset.n": 10000,
                 "batch_size": 10000,
                 "sweep.ns": (1000, 3162, 10000, 31623, 100000, 316228, 1000000),
                 "sweep.repeats": 10000, "total_steps": 10000, "log_every": 1000,
                 "checkpoint_every": 10000},
    })
    return config
