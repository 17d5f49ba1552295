"""Continuous-time models (catalog family CT): diffusion, flow matching, bridges.

Pure modules (import core, ``data`` and ``models`` only):

* :mod:`.diffusion`: diffusion likelihood bounds, denoising losses, i-DODE's velocity
  parameterization and importance-sampled time [P013], weighted DSM [P156];
* :mod:`.flow_matching`: I-CFM, OT-CFM, Schrödinger-bridge CFM [P011];
* :mod:`.consistency`: improved consistency training [P233], on :mod:`.edm`'s
  noise levels and preconditioning (Karras et al. 2022);
* :mod:`.conditional_score`: classifier-guided and composed scores, denoising
  likelihood score matching [P156], compositional score SBI [P131];
* :mod:`.masked_diffusion`: masked-diffusion neural samplers [P099];
* :mod:`.bridges`: diffusion bridges and their mixture (GruM) [P010];
* :mod:`.restoration`: the mean-reverting SDE of IR-SDE, degradations, PSNR/SSIM [P028];
* :mod:`.presets`: config blocks shared by the family's experiments (VP SDE, Fourier-time
  MLP, U-Net, adaptive ODE evaluation, run lengths).

Every time-dependent callable takes the time first, ``f(t, x)`` (the types of
:mod:`likelihood_jax.types`).

The SDEs, ODE solves and the maximum-likelihood reverse-SDE solver [P017] are core
(:mod:`likelihood_jax.sde`, :mod:`likelihood_jax.ode`): several families use them.
"""
