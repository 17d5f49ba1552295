"""GruM [P010]: graph generation with a mixture of diffusion bridges, against plain diffusion.

Jo, Kim & Hwang (ICML 2024), "Graph Generation with Diffusion Mixture"
(https://arxiv.org/abs/2302.03596, code github.com/harryjo97/GruM).

The state is the strict upper triangle of the (padded) adjacency matrix, a vector of
``M (M - 1) / 2`` entries, with an edge coded ``+1`` and a non-edge ``-1`` on pairs of real
nodes (0 on padded pairs, which never enter a loss or an output). Independent Gaussian
noise on this vector is symmetric noise on the matrix. The network is
:class:`likelihood_jax.models.graph.GraphNet` (permutation equivariant), applied to the
symmetric matrix rebuilt from the vector, with the node mask of the graph.

``config.method``:

* ``"grum"`` — the mixture of OU bridges of :mod:`likelihood_jax.continuous_time.bridges` (GruM's
  ``type: OU, drift_coeff: 1, sigma_0: 0.4, sigma_1: 0.2`` for the adjacency by default),
  the network predicts the final graph ``D_theta(t, G_t)``; loss
  :func:`bridges.bridge_regression_loss` (``config.grum.weighting``: ``"constant"`` =
  ``E|D_theta - G|^2``, or ``"bridge"`` = the path-KL weight); sampling
  :func:`bridges.simulate` from ``N(0, I)`` over ``t: 0 -> 1`` with the last step
  noise-free.
* ``"diffusion"`` — the baseline: the same network predicts the noise ``eps`` of the VP SDE
  (:class:`likelihood_jax.sde.VPSDE`), loss ``|eps_theta(t, x_t) - eps|^2 / 2`` (denoising
  score matching with ``lambda = sigma_t^2``, score ``-eps_theta / sigma_t``), sampling with
  :func:`likelihood_jax.sde.reverse_euler_maruyama` from the prior.

Both end by thresholding the entries at 0. The node count of a generated graph is drawn
from the training graphs' node counts (as GDSS/GruM do).

Evaluation (``model_metrics``): ``config.eval.num_samples`` generated graphs against the
test graphs, MMD^2 of degree, clustering and orbit statistics
(:func:`likelihood_jax.metrics.graphs.graph_mmds`, Gaussian-EMD by default, ``config.eval.kernel``),
their mean ``mmd_mean`` (the headline metric), and the same MMDs between held-out *training*
graphs and the test graphs (``ref_*``): the value of a perfect model at this sample size.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time import bridges
from likelihood_jax.data.synthetic import graphs
from likelihood_jax.metrics import graphs as graph_metrics
from likelihood_jax.models.graph import GraphNet
from likelihood_jax.train import Experiment

METHODS = ("grum", "diffusion")
STATS = ("degree", "clustering", "orbit")


class GruM(Experiment):
    """GruM or the VP-diffusion baseline on small synthetic graphs (module docstring).

    The data is the registered graph dataset ``config.dataset.name``
    (:mod:`likelihood_jax.data.synthetic.graphs`: padded adjacency ``x`` and ``node_mask``).
    """

    headline_metric = "mmd_mean"

    def __init__(self, config, dataset=None):
        if config.method not in METHODS:
            raise ValueError(f"unknown method {config.method!r}; choose one of {METHODS}")
        super().__init__(config, dataset=dataset)
        self.method = config.method
        self._reference = None

    def make_model(self, config, info):
        """The permutation-equivariant :class:`GraphNet`."""
        del info
        m = config.model
        return GraphNet(hidden=int(m.hidden), num_layers=int(m.num_layers),
                        time_dim=int(m.get("time_dim", 16)))

    # -- derived from the config and the data (computed on first use) ------------------------

    @functools.cached_property
    def train_graphs(self) -> list[np.ndarray]:
        """The training graphs, unpadded."""
        return graphs.unpad_graphs(self.dataset.train["x"], self.dataset.train["node_mask"])

    @functools.cached_property
    def test_graphs(self) -> list[np.ndarray]:
        """The test graphs, unpadded."""
        return graphs.unpad_graphs(self.dataset.test["x"], self.dataset.test["node_mask"])

    @functools.cached_property
    def num_nodes(self) -> int:
        """``M``, the padded node count."""
        return int(self.dataset.info.event_shape[0])

    @functools.cached_property
    def _triu(self) -> tuple[np.ndarray, np.ndarray]:
        return np.triu_indices(self.num_nodes, 1)

    @property
    def rows(self) -> np.ndarray:
        """Row indices of the strict upper triangle."""
        return self._triu[0]

    @property
    def cols(self) -> np.ndarray:
        """Column indices of the strict upper triangle."""
        return self._triu[1]

    @functools.cached_property
    def node_counts(self) -> np.ndarray:
        """Node count of every training graph, sampled for generated graphs.

        A numpy array, so that it may first be read inside a traced function.
        """
        return np.asarray(self.dataset.train["node_mask"]).sum(1).astype(np.int32)

    @functools.cached_property
    def bridge(self) -> bridges.Bridge:
        """GruM's bridge family (``config.grum``)."""
        g = self.config.grum
        return bridges.Bridge(g.kind, sigma_0=g.sigma_0, sigma_1=g.sigma_1,
                              drift_coeff=g.drift_coeff)

    @functools.cached_property
    def sde(self) -> sde_lib.VPSDE:
        """The baseline's VP SDE (``config.diffusion``)."""
        v = self.config.diffusion
        return sde_lib.VPSDE(beta_min=v.beta_min, beta_max=v.beta_max)

    # -- representation ----------------------------------------------------------------------

    def to_vector(self, matrix: jax.Array) -> jax.Array:
        """Strict upper triangle of ``(M, M)`` as a vector."""
        return matrix[self.rows, self.cols]

    def to_matrix(self, vec: jax.Array) -> jax.Array:
        """Symmetric ``(M, M)`` with zero diagonal from the upper-triangle vector."""
        upper = jnp.zeros((self.num_nodes, self.num_nodes), vec.dtype).at[
            self.rows, self.cols].set(vec)
        return upper + upper.T

    def encode(self, adj: jax.Array, node_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(x, pair_mask)``: +-1 on real pairs, 0 on padded ones, as vectors."""
        pair = self.to_vector(node_mask[:, None] * node_mask[None, :])
        return (2.0 * self.to_vector(adj) - 1.0) * pair, pair

    def network(self, params, t, vec: jax.Array, node_mask: jax.Array) -> jax.Array:
        """The GraphNet output at time ``t`` on a vector state, as a vector."""
        out = self.model.apply(params, self.to_matrix(vec), node_mask, t)
        return self.to_vector(out)

    # -- Experiment interface ----------------------------------------------------------------

    def init_params(self, key, batch):
        """GraphNet parameters (one example's shapes)."""
        adj, mask = jnp.asarray(batch["x"][0]), jnp.asarray(batch["node_mask"][0])
        return self.model.init(key, adj, mask, jnp.asarray(0.5, jnp.float32))

    def example_loss(self, params, adj, node_mask, key):
        """Per-example loss of ``config.method`` (and the sampled time)."""
        x, pair = self.encode(adj, node_mask)
        if self.method == "grum":
            def predict(t, z):
                return self.network(params, t, z, node_mask)
            return bridges.bridge_regression_loss(
                self.bridge, predict, x, key, weighting=self.config.grum.weighting,
                t_eps=self.config.grum.t_eps, mask=pair)
        t_key, x_key = jax.random.split(key)
        t_min = self.config.diffusion.t_min
        t = jax.random.uniform(t_key, (), x.dtype, t_min, self.sde.T)
        x_t, eps = self.sde.marginal_sample(x_key, x, t)
        err = (self.network(params, t, x_t * pair, node_mask) - eps) * pair
        return 0.5 * jnp.sum(err * err), t

    def loss_fn(self, params, batch, key, step):
        """Mean over the batch is taken by the loop; also logs the loss per real pair."""
        del step
        keys = jax.random.split(key, batch["x"].shape[0])
        loss, t = jax.vmap(functools.partial(self.example_loss, params))(
            batch["x"], batch["node_mask"], keys)
        pairs = jnp.sum(batch["node_mask"], 1)
        pairs = pairs * (pairs - 1) / 2
        return loss, {"loss_per_pair": loss / pairs, "t": t}

    def sample_vectors(self, params, key, num_samples: int, model_fn=None):
        """``(states (S, P), node_masks (S, M))`` of ``num_samples`` generated graphs.

        ``model_fn(t, v, node_mask)`` replaces the network (the tests pass analytic
        predictors): the endpoint prediction for GruM, the noise prediction for diffusion.
        """
        if model_fn is None:
            model_fn = functools.partial(self.network, params)
        _, z_key, s_key = jax.random.split(key, 3)
        node_mask = self.sample_node_masks(key, num_samples)
        z0 = jax.random.normal(z_key, (num_samples, len(self.rows)))
        keys = jax.random.split(s_key, num_samples)
        steps = int(self.config.sampling.num_steps)

        def one(z, mask, k):
            if self.method == "grum":
                def predict(t, v):
                    return model_fn(t, v, mask)
                return bridges.simulate(self.bridge, predict, z, k, num_steps=steps)

            def score(t, v):
                _, sigma = self.sde.marginal(t)
                return -model_fn(t, v, mask) / sigma
            return sde_lib.reverse_euler_maruyama(self.sde, score, z, k, num_steps=steps,
                                              t_end=self.config.diffusion.t_min)

        return jax.vmap(one)(z0, node_mask, keys), node_mask

    def sample_node_masks(self, key, num_samples: int) -> jax.Array:
        """``(S, M)`` node masks of the graphs :meth:`sample_vectors` draws with ``key``.

        The node counts are drawn from the training graphs' with the first of the three
        keys ``split(key, 3)``, so the masks of a sample follow from its key alone.
        """
        n_key = jax.random.split(key, 3)[0]
        counts = jax.random.choice(n_key, jnp.asarray(self.node_counts), (num_samples,))
        return (jnp.arange(self.num_nodes)[None, :] < counts[:, None]).astype(jnp.float32)

    def _sample_adjacency(self, params, key, num_samples):
        vec, node_mask = self.sample_vectors(params, key, num_samples)
        adj = jax.vmap(self.to_matrix)((vec > 0).astype(jnp.float32))
        return adj * node_mask[:, :, None] * node_mask[:, None, :]

    @functools.cached_property
    def sample_fn(self):
        """``sample_fn(params, key, num_samples)``: adjacency matrices ``(S, M, M)`` in {0, 1}.

        Padded nodes are 0. One function object per experiment, so that ``jax.jit`` of it
        compiles once for the plot and :meth:`model_metrics` when both draw as many graphs.
        """
        return functools.partial(GruM._sample_adjacency, self)

    def generate_graphs(self, params, key, num_samples: int, model_fn=None
                        ) -> list[np.ndarray]:
        """Generated graphs as a list of unpadded adjacency matrices."""
        sample = jax.jit(functools.partial(self.sample_vectors, num_samples=num_samples,
                                           model_fn=model_fn))
        vec, node_mask = sample(params, key)
        vec, node_mask = np.asarray(vec), np.asarray(node_mask)
        adj = np.stack([np.asarray(self.to_matrix(jnp.asarray(v > 0, jnp.float32)))
                        for v in vec])
        return graphs.unpad_graphs(adj, node_mask)

    def reference_mmds(self) -> dict[str, float]:
        """MMDs of training graphs (as many as the samples) vs test graphs: the floor."""
        if self._reference is None:
            num = min(int(self.config.eval.num_samples), len(self.train_graphs))
            ref = graph_metrics.graph_mmds(self.train_graphs[:num], self.test_graphs,
                                    kernel=self.config.eval.kernel)
            self._reference = {f"ref_{k}": v for k, v in ref.items()}
            self._reference["ref_mean"] = float(np.mean([ref[k] for k in STATS]))
        return self._reference

    def model_metrics(self, params, key):
        """Degree/clustering/orbit MMD^2 of generated vs test graphs, and the reference."""
        num = int(self.config.eval.num_samples)
        adj = jax.jit(self.sample_fn, static_argnums=2)(params, key, num)
        generated = graphs.unpad_graphs(np.asarray(adj),
                                        np.asarray(self.sample_node_masks(key, num)))
        mmds = graph_metrics.graph_mmds(generated, self.test_graphs, kernel=self.config.eval.kernel)
        out = {f"mmd_{k}": v for k, v in mmds.items()}
        out["mmd_mean"] = float(np.mean([mmds[k] for k in STATS]))
        out["mean_edges"] = float(np.mean([g.sum() / 2 for g in generated]))
        out["ref_mean_edges"] = float(np.mean([g.sum() / 2 for g in self.test_graphs]))
        out.update(self.reference_mmds())
        return out


EXPERIMENT = GruM
