"""Any-order generation of small tables from text with an encoder-decoder (STable) [P046].

Pietruszka, Turski, Borchmann, Dwojak, Pałka, Szyndler, Jurkiewicz & Garncarek (EACL 2024),
"STable: Table Generation Framework for Encoder-Decoder Models", arXiv:2206.04045.

Data: ``text_tables`` (:mod:`likelihood_jax.data.synthetic.text_tables`): a document
stating two of the three cells ``a, b, c = a + b mod V`` of each row; the table is the
``3 R`` cells. Model: the LM stack's :class:`~likelihood_jax.models.seq2seq.Seq2Seq`
(encoder over the document; causal decoder over ``[Q(cell), value]`` pairs in a
factorisation order, :mod:`likelihood_jax.flows.any_order`).

``config.order``:

* ``random`` (STable): every example draws a uniform order of its cells; the loss is
  ``-L_sigma`` (one decoder pass), an unbiased estimate of ``-E_sigma L_sigma``;
* ``fixed``: the row-major (left-to-right) order only, the sequential baseline.

Evaluation decodes every test table greedily twice: in the fixed row-major order and with
STable's order search (most confident remaining cell first); headline: cell accuracy of the
search (``cell_accuracy_search``), with whole-table exact match of both.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax.data.synthetic import text_tables
from likelihood_jax.flows import any_order
from likelihood_jax.models.seq2seq import Seq2Seq
from likelihood_jax.train import Experiment

ORDERS = ("random", "fixed")


class AnyOrderTables(Experiment):
    """STable's permutation-trained decoder (or the fixed-order baseline) on text-to-table."""

    headline_metric = "cell_accuracy_search"

    def __init__(self, config, dataset=None):
        if config.order not in ORDERS:
            raise ValueError(f"unknown order {config.order!r}; choose one of {ORDERS}")
        super().__init__(config, dataset=dataset)

    @property
    def num_values(self) -> int:
        """``V``."""
        return int(self.config.dataset.num_values)

    @property
    def num_cells(self) -> int:
        """``T = 3 R``."""
        return text_tables.NUM_COLUMNS * int(self.config.dataset.num_rows)

    def make_model(self, config, info):
        """A small Seq2Seq: decoder vocabulary ``V + T`` (values, cell queries), output ``V``."""
        m = config.model
        return Seq2Seq(source_vocab_size=len(info.vocab),
                       target_vocab_size=self.num_values + self.num_cells,
                       output_size=self.num_values, num_encoder_layers=m.num_layers,
                       num_decoder_layers=m.num_layers, width=m.width, num_heads=m.num_heads)

    def init_params(self, key, batch):
        """Seq2Seq parameters."""
        decoder = jnp.zeros((1, 2 * self.num_cells), jnp.int32)
        return self.model.init(key, batch["source"][:1], decoder)["params"]

    def orders(self, key, num):
        """``[B, T]`` factorisation orders: uniform (``random``) or row-major (``fixed``)."""
        if self.config.order == "fixed":
            return jnp.broadcast_to(jnp.arange(self.num_cells), (num, self.num_cells))
        return jax.vmap(lambda k: jax.random.permutation(k, self.num_cells))(
            jax.random.split(key, num))

    def order_log_probs(self, params, source, cells, orders):
        """``[B, T]`` per-step ``log p(v_sigma(k) | v_sigma(<k), doc)``: one decoder pass."""
        inputs = jax.vmap(lambda c, o: any_order.interleave_cells(c, o, self.num_values))(
            cells, orders)
        logits = self.model.apply({"params": params}, source, inputs)
        return jax.vmap(any_order.permuted_cell_log_probs)(logits, cells, orders)

    def loss_fn(self, params, batch, key, step):
        """``-L_sigma`` per table (sum over its cells) for an order of ``config.order``."""
        orders = self.orders(key, batch["x"].shape[0])
        log_probs = self.order_log_probs(params, batch["source"], batch["x"], orders)
        return -jnp.sum(log_probs, axis=1), {}

    def decode(self, params, source, search):
        """Greedy tables ``[B, T]`` (and orders): searched, or in the fixed row-major order."""
        memory = self.model.apply({"params": params}, source, method=self.model.encode)
        fixed = None if search else jnp.arange(self.num_cells)

        def one(mem):
            def cell_logits_fn(prefix, k):
                candidates = jax.vmap(lambda c: prefix.at[2 * k].set(
                    any_order.query_token(c, self.num_values)))(jnp.arange(self.num_cells))
                mems = jnp.broadcast_to(mem, (self.num_cells,) + mem.shape)
                logits = self.model.apply({"params": params}, mems, candidates,
                                          method=self.model.decode)
                return logits[:, 2 * k]
            cells, order, _ = any_order.any_order_greedy_decode(
                cell_logits_fn, self.num_cells, self.num_values, fixed)
            return cells, order
        return jax.vmap(one)(memory)

    def eval_fn(self, params, batch, key):
        """Cell accuracy and table exact match of both decoders; NLL in the fixed order."""
        cells = batch["x"]
        out = {}
        for name, search in (("fixed", False), ("search", True)):
            decoded, _ = self.decode(params, batch["source"], search)
            correct = decoded == cells
            out[f"cell_accuracy_{name}"] = jnp.mean(correct, axis=1)
            out[f"table_exact_{name}"] = jnp.all(correct, axis=1).astype(jnp.float32)
        fixed = jnp.broadcast_to(jnp.arange(self.num_cells), cells.shape)
        out["nll_fixed_order"] = -jnp.sum(
            self.order_log_probs(params, batch["source"], cells, fixed), axis=1)
        return out


EXPERIMENT = AnyOrderTables
