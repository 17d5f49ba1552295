"""i-DODE [P013] on scikit-learn's 8x8 digits (17 levels): the main small-scale result.

Paper: Zheng, Lu, Chen & Zhu 2023, "Improved techniques for maximum likelihood estimation
for diffusion ODEs" (ICML; CIFAR-10 2.56 bits/dim). Reproduced at small scale: the same
network (a 3x256 tanh MLP with Fourier time features on the flat image, or
``--config.model.arch=unet``) trained two ways and scored by the probability-flow ODE
likelihood in bits/dim on the 297 test digits:

* baseline (``:default,noise``): noise prediction, ``t ~ U(0, 1)``, uniformly dequantized
  training data, uniform dequantization at evaluation;
* i-DODE (``:default``): velocity parameterization with the ML weight and importance-
  sampled time, trained on the cell centers, truncated-normal dequantization;
* fine-tuned (``:default,finetune --config.idode.init_from=<i-DODE workdir>``): the
  i-DODE model further trained with the second-order objective (weight 0.1).

Both dequantizations are always reported (``bpd_uniform``, ``bpd_tn``) with the NFE of
the adaptive solver (dopri5, rtol = atol = 1e-4; Hutchinson divergence). The schedule is
VDM's linear log-SNR with ``gamma_min = -7.9`` so that ``tau = alpha_0 / (sigma_0 L) =
3.0``, the value CIFAR-10's ``gamma_min = -13.3`` gives with 256 levels.

The arg is ``<mode>`` or ``<mode>,<method>``: modes ``runlocal`` (the tests), default
(the README numbers), ``full`` (longer); methods ``idode`` (default), ``noise``,
``finetune``. Numbers reached (seed 0, default mode; experiments/idode/README.md): test
bits/dim 3.496 for the baseline (uniform dequantization; NFE 80.5) vs 2.969 for i-DODE
(truncated-normal dequantization; NFE 63.4); 2.966 after fine-tuning (2.965 for the
control without the second-order term).
"""

from experiments.idode.configs.common import idode_config
from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import runlocal


def get_config(arg=None):
    return idode_config(
        arg, "digits", gamma_min=-7.9, hidden_dims=(256, 256, 256),
        unet=presets.unet(16, (1, 2), 1), num_examples=297, modes={
            # fixed-step midpoint likelihoods and samples (8 steps) instead of dopri5
            "runlocal": runlocal(200, {"model.hidden_dims": (64, 64),
                                       "eval.num_examples": 32, "eval.solver": "midpoint",
                                       "eval.num_steps": 8}, ema_decay=0.0),
            "default": presets.run_length(6000, 500, 3000),
            "full": {**presets.run_length(50000, 1000, 10000), "optim.schedule": "cosine",
                     "eval_every": 10000, "eval.rtol": 1e-5, "eval.atol": 1e-5},
        })
