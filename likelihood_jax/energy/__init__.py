"""Energy-based, implicit and likelihood-free training (catalog family EBM).

GANs, IMLE, contrastive divergence, Langevin and MCMC-trained models; the family's papers land
here (the layout rule is in the package docstring of ``likelihood_jax``).

Modules:

* ``mcmc``: MCMC samplers as pure ``lax.scan`` functions over a log-density or energy, one
  chain per call: unadjusted Langevin :func:`ula` and its Metropolis-adjusted version
  :func:`mala` (Roberts & Tweedie 1996), stochastic gradient Langevin dynamics :func:`sgld`
  with :func:`polynomial_decay` step sizes (Welling & Teh 2011), Metropolis-Hastings with a
  user proposal :func:`metropolis_hastings` and :func:`random_walk_metropolis` (Metropolis et
  al. 1953; Hastings 1970), and systematic-scan :func:`gibbs` for discrete sites (Geman &
  Geman 1984) [P029, P039, P081, P139, P172].
* ``gan``: the GAN game from discriminator logits: :func:`discriminator_loss`, the minimax
  and non-saturating generator losses, the value :func:`gan_value`, the optimal
  discriminator ``D* = p_data / (p_data + p_g)`` and ``V(D*, G) = -log 4 + 2 JSD``
  (Goodfellow et al. 2014) [P072].
* ``gan_em``: GAN-EM's soft-label M-step discriminator loss, conditional generator loss,
  the E-net's cross-entropy on generated samples and :func:`clustering_accuracy`
  (Hungarian matching) [P054].
* ``imle``: implicit maximum likelihood estimation: the nearest-sample loss
  :func:`imle_loss` / :func:`nearest_sample_loss` (selection under ``stop_gradient``), RS-IMLE's
  rejection-sampled prior :func:`rejection_mask` and :func:`masked_nearest` [P079], and
  Social-Implicit's AMD/AMV :func:`average_mahalanobis_distance`,
  :func:`average_max_eigenvalue` with best-of-K ADE/FDE [P015].
* ``regularized_autoencoder``: auto-encoders as score estimators: the contractive criterion
  :func:`contractive_criterion` (Jacobian Frobenius norm exact or by Hutchinson through
  ``jax.jvp``, :func:`jacobian_frobenius_squared`), the small-noise :func:`denoising_criterion`,
  the score :func:`reconstruction_score` ``(r(x) - x) / sigma^2``, and the approximate MH
  sampler :func:`approximate_metropolis_hastings` with line-integral
  :func:`energy_difference` (Alain & Bengio 2014) [P029].
* ``weighted_mmd``: optimally-weighted MMD estimators for simulators: Bayesian-quadrature
  :func:`optimal_weights` over simulator inputs (:func:`gaussian_embedding`,
  :func:`uniform_embedding`, :func:`median_heuristic`), :func:`weighted_mmd_squared`, and the
  closed form :func:`gaussian_location_mmd_squared` (Bharti et al. 2023) [P048].
* ``coupling``: coupled Markov chains: :func:`maximal_coupling` (``P(X = Y) = 1 - TV``),
  :func:`coupled_metropolis_hastings` and the lag-1 unbiased MCMC estimator
  :func:`unbiased_expectation` in a ``lax.while_loop`` (Jacob, O'Leary & Atchade 2020) [P139].
* ``learned_proposals``: meta-learned MCMC block proposals: a mixture-density network
  :func:`mdn_log_prob` / :func:`mdn_sample` fit to a motif's block conditional on draws of the
  model, used in Metropolis-Hastings through :func:`random_scan_block_proposal`; the conjugate
  Gaussian motif and the means of an open-universe-style mixture; :func:`effective_sample_size`
  (Wang et al. 2018) [P081].
* ``clustering_ebm``: GEDI's objective :func:`gedi_loss` (contrastive-divergence
  :func:`generative_loss` on the JEM energy :func:`energy_from_logits`, augmentation
  :func:`invariance_loss`, :func:`uniform_prior_loss`) and :func:`langevin_negatives`
  (Sansone & Manhaeve 2025) [P039].
* ``ais``: :func:`annealed_importance_sampling` of a log partition function (Neal 2001) [P139].
* ``boltzmann``: deep Boltzmann machines with two hidden layers: energy, block Gibbs, local
  modes, the unbiased phases ``unbiased_statistics`` (coupled MH from a local mode, or
  coupled Gibbs), exact ``log_partition`` / ``log_likelihood`` by enumeration over the
  first hidden layer, and ``ais_log_partition`` (Taniguchi et al. 2023) [P139]; its names
  are generic, so they stay in the module: ``energy.boltzmann.log_likelihood``.
* ``recovery_likelihood``: diffusion recovery likelihood with a cooperative initializer:
  :func:`vp_schedule`, :func:`marginal_coefficients`, :func:`posterior_std`,
  :func:`noisy_pair`, :func:`recovery_log_prob`, Langevin :func:`refine`,
  :func:`recovery_contrastive_loss`, :func:`initializer_loss` and the Gaussian closed forms
  :func:`gaussian_marginal` / :func:`gaussian_recovery` (Zhu et al. 2024) [P172]; only the
  two ``recovery_*`` names are re-exported, the rest stay in the module.
* ``ddo``: direct discriminative optimization, a likelihood model as its own discriminator
  against a frozen reference: :func:`implicit_logit`, :func:`ddo_loss` (Zheng et al. 2025)
  [P084].

Names are loaded on first use (PEP 562), so importing the package does not import jax.

Example::

    from likelihood_jax import energy
    log_prob = energy.log_prob_from_energy(lambda x: 0.5 * x @ x)
    chains = jax.vmap(lambda k: energy.mala(log_prob, jnp.zeros(2), k, step_size=0.5,
                                            num_steps=500))(jax.random.split(key, 64))
    samples, rate = chains.state, chains.acceptance_rate
"""

from __future__ import annotations

from likelihood_jax._lazy import lazy_attributes

_EXPORTS = {
    "AISResult": "ais",
    "annealed_importance_sampling": "ais",
    "CoupledEstimate": "coupling",
    "coupled_metropolis_hastings": "coupling",
    "maximal_coupling": "coupling",
    "unbiased_expectation": "coupling",
    "ddo_loss": "ddo",
    "implicit_logit": "ddo",
    "discriminator_loss": "gan",
    "gan_value": "gan",
    "jensen_shannon_from_value": "gan",
    "minimax_generator_loss": "gan",
    "non_saturating_generator_loss": "gan",
    "optimal_discriminator": "gan",
    "optimal_discriminator_logit": "gan",
    "value_from_jensen_shannon": "gan",
    "clustering_accuracy": "gan_em",
    "conditional_generator_loss": "gan_em",
    "enet_loss": "gan_em",
    "soft_assignments": "gan_em",
    "weighted_discriminator_loss": "gan_em",
    "Selection": "imle",
    "average_mahalanobis_distance": "imle",
    "average_max_eigenvalue": "imle",
    "imle_loss": "imle",
    "masked_nearest": "imle",
    "nearest_sample_loss": "imle",
    "rejection_mask": "imle",
    "MCMCResult": "mcmc",
    "GEDITerms": "clustering_ebm",
    "energy_from_logits": "clustering_ebm",
    "gedi_loss": "clustering_ebm",
    "generative_loss": "clustering_ebm",
    "invariance_loss": "clustering_ebm",
    "langevin_negatives": "clustering_ebm",
    "uniform_prior_loss": "clustering_ebm",
    "MDNParams": "learned_proposals",
    "effective_sample_size": "learned_proposals",
    "mdn_log_prob": "learned_proposals",
    "mdn_sample": "learned_proposals",
    "random_scan_block_proposal": "learned_proposals",
    "gibbs": "mcmc",
    "log_prob_from_energy": "mcmc",
    "mala": "mcmc",
    "metropolis_hastings": "mcmc",
    "polynomial_decay": "mcmc",
    "random_walk_metropolis": "mcmc",
    "sgld": "mcmc",
    "ula": "mcmc",
    "approximate_metropolis_hastings": "regularized_autoencoder",
    "contractive_criterion": "regularized_autoencoder",
    "denoising_criterion": "regularized_autoencoder",
    "energy_difference": "regularized_autoencoder",
    "jacobian_frobenius_squared": "regularized_autoencoder",
    "reconstruction_score": "regularized_autoencoder",
    "recovery_contrastive_loss": "recovery_likelihood",
    "recovery_log_prob": "recovery_likelihood",
    "gaussian_embedding": "weighted_mmd",
    "gaussian_location_mmd_squared": "weighted_mmd",
    "median_heuristic": "weighted_mmd",
    "optimal_weights": "weighted_mmd",
    "uniform_embedding": "weighted_mmd",
    "weighted_mmd_squared": "weighted_mmd",
}

_SUBMODULES = frozenset({"ais", "boltzmann", "clustering_ebm", "coupling", "ddo", "gan", "gan_em",
                         "imle", "learned_proposals", "mcmc", "recovery_likelihood",
                         "regularized_autoencoder", "weighted_mmd"})

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_attributes(__name__, globals(), _EXPORTS, _SUBMODULES)
