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
    "MCMCResult": "mcmc",
    "gibbs": "mcmc",
    "log_prob_from_energy": "mcmc",
    "mala": "mcmc",
    "metropolis_hastings": "mcmc",
    "polynomial_decay": "mcmc",
    "random_walk_metropolis": "mcmc",
    "sgld": "mcmc",
    "ula": "mcmc",
}

_SUBMODULES = frozenset({"mcmc"})

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_attributes(__name__, globals(), _EXPORTS, _SUBMODULES)
