"""DLSM [P156]: classifier training for conditional score-based generation.

Chao et al. (2022), "Denoising likelihood score matching for conditional score-based data
generation" (ICLR). A VP diffusion (:class:`likelihood_jax.sde.VPSDE`) with three networks
trained side by side, one parameter tree each, on one loss (their gradients do not mix):

* ``score``: the unconditional score ``s_theta(t, x) = net(t, x) / sigma_t`` trained by
  denoising score matching
  (:func:`likelihood_jax.continuous_time.diffusion.weighted_denoising_score_matching`,
  ``lambda = sigma^2``);
* ``clf_ce``: a time-conditioned classifier trained by cross-entropy on noisy inputs (the
  baseline, :func:`likelihood_jax.continuous_time.conditional_score.noisy_cross_entropy`);
* ``clf_dlsm``: the same architecture trained by DLSM + ``dlsm.ce_weight`` x CE with the
  score frozen (``stop_gradient``;
  :func:`likelihood_jax.continuous_time.conditional_score.denoising_likelihood_score_matching`).
  The paper trains the score first and the classifier afterwards; here both run at once
  and the classifier always matches the *current* score (the score's own loss never sees
  the classifier).

Data: ``dataset.name = "gmm_circle"`` (registered,
:mod:`likelihood_jax.data.synthetic.class_mixture`): a class-conditional 2D Gaussian
mixture, ``dataset.num_components`` equal-weight components on a circle of radius
``dataset.radius`` with std ``dataset.std``, component ``k`` of class ``k %
dataset.num_classes``; its diffused class-conditional score is analytic
(:func:`likelihood_jax.continuous_time.conditional_score.diffused_gaussian_mixture_log_prob`).
Or ``"digits"``: 8x8 digits scaled to ``[-1, 1]^64`` (``2 k / 16 - 1``) with a fourth
network ``clf_clean`` (CE on clean digits) that judges generated samples.

Evaluation (``eval_fn``, per test example, at the times ``eval.times``): on ``gmm_circle`` the
squared conditional-score error ``|s + grad log p_phi(y | x_t) - grad log p_t(x_t | y)|^2``
with ``x_t ~ p_t(. | x)`` (``cond_err_{ce,dlsm}_t{i}``), the classifier-gradient error
against the true ``grad log p_t(y | x_t)`` (``clf_grad_err_*``), the score error
(``score_err_t{i}``), the noisy accuracy of both classifiers, and the sigma^2-weighted
averages over the times ``cond_err_ce`` / ``cond_err_dlsm`` (headline: the DLSM one).
``model_metrics``: ``sample.per_class`` samples per class by the reverse SDE with the
guided score of each classifier
(:func:`likelihood_jax.continuous_time.conditional_score.guided_score`,
scale ``sample.guidance_scale``), scored by the Bayes classifier of the mixture (``gmm_circle``)
or by ``clf_clean`` (``digits``): ``sample_acc_ce`` and ``sample_acc_dlsm``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time import conditional_score as cs
from likelihood_jax.continuous_time import diffusion
from likelihood_jax.data.synthetic import class_mixture
from likelihood_jax.models.time_mlp import TimeMLP
from likelihood_jax.train import Experiment, load_config_dataset

DATASETS = ("gmm_circle", "digits")


def digits_dataset() -> data_lib.Dataset:
    """Digits as float vectors in [-1, 1]^64 with labels."""
    raw = data_lib.load_dataset("digits")
    levels = raw.info.num_levels

    def convert(split):
        x = split["x"].reshape(len(split["x"]), -1).astype(np.float32)
        return {"x": 2.0 * x / (levels - 1) - 1.0, "label": split["label"].astype(np.int32)}

    return data_lib.Dataset("digits", convert(raw.train), convert(raw.test), data_lib.DatasetInfo(
        kind="continuous", event_shape=(64,), num_classes=raw.info.num_classes,
        description="8x8 digits scaled to [-1, 1]"))


class DLSM(Experiment):
    """Unconditional score + CE classifier + DLSM classifier (+ clean judge on digits)."""

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset=dataset)
        self.analytic = config.dataset.name == "gmm_circle"
        self.headline_metric = "cond_err_dlsm" if self.analytic else "acc_dlsm"
        self.t_min = float(config.diffusion.t_min)
        self.ce_weight = float(config.dlsm.ce_weight)
        self.eval_times = tuple(float(t) for t in config.eval.times)

    def make_dataset(self, config):
        """``gmm_circle`` (registered, options in ``config.dataset``) or digits in [-1, 1]."""
        name = config.dataset.name
        if name not in DATASETS:
            raise ValueError(f"Unknown dataset {name!r} for dlsm; expected one of {DATASETS}.")
        return load_config_dataset(config) if name == "gmm_circle" else digits_dataset()

    def make_model(self, config, info):
        """``(score_net, clf_net)``: the score MLP and the classifier MLP (``K`` logits)."""
        m = config.model
        score_net = TimeMLP(hidden_dims=tuple(m.score_hidden), activation=m.activation,
                            time_embedding=m.time_embedding)
        clf_net = TimeMLP(hidden_dims=tuple(m.clf_hidden), out_dim=int(info.num_classes),
                          activation=m.activation, time_embedding=m.time_embedding)
        return score_net, clf_net

    # -- derived from the config and the data (computed on first use) ----------------------

    @property
    def score_net(self) -> TimeMLP:
        """The score network ``net(t, x)`` (``s = net / sigma_t``)."""
        return self.model[0]

    @property
    def clf_net(self) -> TimeMLP:
        """The architecture of every classifier."""
        return self.model[1]

    @functools.cached_property
    def gmm(self) -> tuple[np.ndarray, ...]:
        """``(weights, means, covariances, component_labels)`` of the mixture (gmm_circle)."""
        d = self.config.dataset
        return class_mixture.gmm_parameters(int(d.num_components), int(d.num_classes),
                                            float(d.radius), float(d.std))

    @functools.cached_property
    def num_classes(self) -> int:
        """``K``."""
        return int(self.dataset.info.num_classes)

    @functools.cached_property
    def dim(self) -> int:
        """Size of an example."""
        return int(self.dataset.train["x"].shape[1])

    @functools.cached_property
    def sde(self) -> sde_lib.VPSDE:
        """The VP SDE of ``config.diffusion``."""
        d = self.config.diffusion
        return sde_lib.VPSDE(beta_min=float(d.beta_min), beta_max=float(d.beta_max))

    @functools.cached_property
    def _sampler(self):
        return jax.jit(self._conditional_samples, static_argnames=("n",))

    @functools.cached_property
    def _judge(self):
        return jax.jit(self.judge)

    # -- pieces ---------------------------------------------------------------------------

    def score_fn(self, params):
        """``s_theta(t, x) = net(t, x) / sigma_t`` for one example."""

        def score(t, x):
            _, sigma = self.sde.marginal(t)
            return self.score_net.apply(params["score"], t, x) / sigma

        return score

    def logits_fn(self, params, name):
        """``(t, x) -> (K,)`` logits of classifier ``name`` (clf_ce, clf_dlsm, clf_clean)."""
        return lambda t, x: self.clf_net.apply(params[name], t, x)

    def true_scores(self, t, x, y):
        """Analytic ``(grad log p_t(x), grad log p_t(x | y))`` of the mixture."""
        weights, means, covs, labels = (jnp.asarray(a) for a in self.gmm)
        alpha, sigma = self.sde.marginal(t)

        def logp(z, w):
            return cs.diffused_gaussian_mixture_log_prob(z, w, means, covs, alpha, sigma)

        class_w = jnp.where(labels == y, weights, 0.0)
        return jax.grad(logp)(x, weights), jax.grad(logp)(x, class_w)

    def bayes_label(self, x):
        """``argmax_y p(y | x)`` of the clean mixture."""
        weights, means, covs, labels = (jnp.asarray(a) for a in self.gmm)
        comp = jax.vmap(lambda m, c: cs.diffused_gaussian_mixture_log_prob(
            x, jnp.ones((1,)), m[None], c[None], 1.0, 0.0))(means, covs) + jnp.log(weights)
        onehot = jax.nn.one_hot(labels, self.num_classes)
        class_logp = jax.nn.logsumexp(comp[:, None] + jnp.log(onehot + 1e-30), axis=0)
        return jnp.argmax(class_logp)

    # -- Experiment interface ---------------------------------------------------------------

    def init_params(self, key, batch):
        """Parameters ``{score, clf_ce, clf_dlsm[, clf_clean]}``."""
        x = jnp.asarray(batch["x"][0], jnp.float32)
        t = jnp.zeros((), jnp.float32)
        keys = jax.random.split(key, 4)
        params = {"score": self.score_net.init(keys[0], t, x),
                  "clf_ce": self.clf_net.init(keys[1], t, x),
                  "clf_dlsm": self.clf_net.init(keys[2], t, x)}
        if not self.analytic:
            params["clf_clean"] = self.clf_net.init(keys[3], t, x)
        return params

    def loss_fn(self, params, batch, key, step):
        """DSM (score) + CE (clf_ce) + DLSM + ce_weight CE (clf_dlsm) [+ clean CE]."""
        x, y = batch["x"], batch["label"]
        keys = jax.random.split(key, (x.shape[0], 3))
        score = self.score_fn(params)
        kw = {"sde": self.sde, "t_min": self.t_min}

        def one(xi, yi, k):
            dsm = diffusion.weighted_denoising_score_matching(score, xi, k[0], weighting="variance",
                                                              **kw)
            ce = cs.noisy_cross_entropy(self.logits_fn(params, "clf_ce"), xi, yi, k[1], **kw)
            dlsm_total, terms = cs.denoising_likelihood_score_matching(
                self.logits_fn(params, "clf_dlsm"), score, xi, yi, k[2],
                ce_weight=self.ce_weight, **kw)
            out = {"dsm": dsm, "ce_baseline": ce, "dlsm": terms["dlsm"], "ce_dlsm": terms["ce"]}
            total = dsm + ce + dlsm_total
            if not self.analytic:
                clean = -jax.nn.log_softmax(self.logits_fn(params, "clf_clean")(0.0, xi))[yi]
                out["ce_clean"] = clean
                total = total + clean
            return total, out

        return jax.vmap(one)(x, y, keys)

    def eval_fn(self, params, batch, key):
        """Score/classifier errors at ``eval.times`` (gmm_circle) and noisy accuracies."""
        x, y = batch["x"], batch["label"]
        score = self.score_fn(params)
        out = {}
        weighted = {"ce": 0.0, "dlsm": 0.0}
        acc = {"ce": 0.0, "dlsm": 0.0}
        for i, t in enumerate(self.eval_times):
            alpha, sigma = self.sde.marginal(t)
            eps = jax.random.normal(jax.random.fold_in(key, i), x.shape, x.dtype)
            x_t = alpha * x + sigma * eps
            tt = jnp.asarray(t, x.dtype)
            for name in ("ce", "dlsm"):
                logits = self.logits_fn(params, f"clf_{name}")
                correct = (jnp.argmax(jax.vmap(lambda z: logits(tt, z))(x_t), -1) == y)
                out[f"acc_{name}_t{i}"] = correct.astype(jnp.float32)
                acc[name] = acc[name] + out[f"acc_{name}_t{i}"] / len(self.eval_times)
            if not self.analytic:
                continue
            s = jax.vmap(lambda z: score(tt, z))(x_t)
            true_u, true_c = jax.vmap(lambda z, c: self.true_scores(tt, z, c))(x_t, y)
            out[f"score_err_t{i}"] = jnp.sum((s - true_u) ** 2, -1)
            for name in ("ce", "dlsm"):
                logits = self.logits_fn(params, f"clf_{name}")
                g = jax.vmap(lambda z, c: cs.classifier_input_gradient(logits, tt, z, c))(x_t, y)
                out[f"cond_err_{name}_t{i}"] = jnp.sum((s + g - true_c) ** 2, -1)
                out[f"clf_grad_err_{name}_t{i}"] = jnp.sum((g - (true_c - true_u)) ** 2, -1)
                weighted[name] = (weighted[name] + sigma**2 * out[f"cond_err_{name}_t{i}"]
                                  / len(self.eval_times))
        out["acc_ce"], out["acc_dlsm"] = acc["ce"], acc["dlsm"]
        if self.analytic:
            out["cond_err_ce"], out["cond_err_dlsm"] = weighted["ce"], weighted["dlsm"]
        else:
            clean = self.logits_fn(params, "clf_clean")
            out["acc_clean"] = (jnp.argmax(jax.vmap(lambda z: clean(0.0, z))(x), -1) == y
                                ).astype(jnp.float32)
        return out

    def conditional_samples(self, params, key, name: str, y, n: int) -> jax.Array:
        """``n`` samples of class ``y`` by the reverse SDE with classifier ``name``'s guidance."""
        return self._sampler(params["score"], params[name], key, jnp.asarray(y, jnp.int32),
                             n=n)

    def _conditional_samples(self, score_params, clf_params, key, y, *, n: int) -> jax.Array:
        """One compiled sampler for every classifier (they share the architecture)."""
        s = self.config.sample
        params = {"score": score_params, "clf": clf_params}
        guided = cs.guided_score(self.score_fn(params), self.logits_fn(params, "clf"), y,
                                 float(s.guidance_scale))
        batched = jax.vmap(guided, in_axes=(None, 0))
        k0, k1 = jax.random.split(key)
        x = self.sde.prior_sample(k0, (n, self.dim))
        return sde_lib.reverse_euler_maruyama(self.sde, batched, x, k1,
                                              num_steps=int(s.num_steps), t_end=self.t_min)

    def judge(self, params, x):
        """Labels of (generated) clean examples: Bayes classifier or the clean classifier."""
        if self.analytic:
            return jax.vmap(self.bayes_label)(x)
        clean = self.logits_fn(params, "clf_clean")
        return jnp.argmax(jax.vmap(lambda z: clean(0.0, z))(x), -1)

    def model_metrics(self, params, key):
        """Sample accuracy of class-conditional samples guided by each classifier."""
        n = int(self.config.sample.per_class)
        out = {}
        for name in ("ce", "dlsm"):
            hits = 0.0
            for y in range(self.num_classes):
                x = self.conditional_samples(params, jax.random.fold_in(key, y), f"clf_{name}",
                                             y, n)
                hits += float(jnp.sum(self._judge(params, x) == y))
            out[f"sample_acc_{name}"] = hits / (n * self.num_classes)
        return out

    def sample_fn(self, params, key, num_samples):
        """DLSM-guided samples, an equal share per class (images for digits)."""
        per = max(1, math.ceil(num_samples / self.num_classes))
        if not self.analytic:
            per = min(per, 8)
        x = jnp.concatenate([self.conditional_samples(params, jax.random.fold_in(key, y),
                                                      "clf_dlsm", y, per)
                             for y in range(self.num_classes)])
        return x if self.analytic else x.reshape((-1, 8, 8, 1))


EXPERIMENT = DLSM
