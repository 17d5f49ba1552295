"""RS-IMLE [P079] vs IMLE on a few-shot 2D toy (20 points of ``8gaussians``).

Paper: Vashist, Peng & Li 2024. The paper's toy check: the distribution of the distances of
the samples selected in training to their data points matches that of test-time prior samples
to their nearest data point under RS-IMLE, not under IMLE (``ks_statistic``, the two-sample
Kolmogorov-Smirnov statistic, the headline). Modes as in ``digits.py``; default numbers in the
README (``--seeds 3``, with and without ``--config.imle.eps=0``): KS 0.425 (RS-IMLE, eps 0.2)
vs 0.655 (IMLE).
"""

from experiments.rs_imle.configs.digits import RUNLOCAL, rs_imle_config
from likelihood_jax.train.config import apply_mode, runlocal


def get_config(arg=None):
    config = rs_imle_config("8gaussians", 0.2, (64, 64), 2, 2000, 50, 1000)
    apply_mode(config, arg, {
        "runlocal": runlocal(100, RUNLOCAL),
        "full": {"total_steps": 20000, "imle.num_samples": 1000},
    })
    return config
