"""D-RMM: multi-object detection as a regularized mixture over boxes, on rectangles [P136].

Yoo, Lee, Seo, Chung & Kwak (ICML 2023), "End-to-End Multi-Object Detection with a
Regularized Mixture Model", arXiv:2205.08714. The losses are in
:mod:`likelihood_jax.mixtures.detection`; the data (``rectangles``: 16x16 images of 1-3
rectangles and their boxes) in :mod:`likelihood_jax.data.synthetic.rectangles`.

The detector is dense: a small fully convolutional network (:class:`ConvGrid`) gives one
mixture component per cell of an ``8 x 8`` grid (``K = 64``), 9 numbers each: the
foreground logit ``f_k`` (mixing weight ``pi_k = sigmoid(f_k) / sum_j sigmoid(f_j)``,
confidence ``sigmoid(f_k)``), the box ``mu_k = anchor_k + offset_scale * raw`` (``anchor_k``
a square of half-side ``model.anchor_half`` at the cell's center) and the scales
``s_k = max(softplus(raw + scale_bias), min_scale_ratio * (w, h, w, h))``. The loss of an
image is ``NLL + config.mcm_weight * MCM`` (``mcm_weight = 0``: the NLL-only ablation).

Evaluation (``model_metrics``, the first ``config.num_eval_images`` test images):

* ``ap50``: AP at IoU 0.5 with the confidences, **no NMS** (headline); ``ap50_nms``: after
  greedy NMS at IoU 0.5 (the hand-crafted step the paper removes);
* ``components_per_object``: mean over ground-truth boxes of the number of components of
  weight ``G pi_k`` above ``config.count_threshold`` (``G`` boxes in the image; the weights
  sum to ``G``) with IoU >= 0.5 with the box (1 = no duplicates); ``duplicate_fraction``:
  the share of boxes claimed by more than one;
* ``dominant_responsibility``: mean over boxes of ``max_k r_gk``; ``dominant_iou``: mean IoU
  of each box with its most responsible component.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.mixtures import detection
from likelihood_jax.models.conv import ConvGrid
from likelihood_jax.train import Experiment

#: Output channels of one cell: foreground logit, 4 box offsets, 4 raw scales.
CELL_OUTPUTS = 9


class MixtureDetection(Experiment):
    """Dense D-RMM detector on ``rectangles`` (module docstring)."""

    headline_metric = "ap50"

    def __init__(self, config, dataset=None):
        if config.family not in detection.FAMILIES:
            raise ValueError(f"unknown family {config.family!r}; choose one of "
                             f"{detection.FAMILIES}")
        if config.mcm_weight < 0:
            raise ValueError(f"mcm_weight must be >= 0, got {config.mcm_weight}")
        super().__init__(config, dataset=dataset)

    def make_model(self, config, info):
        """The :class:`ConvGrid` with one 9-channel output per grid cell."""
        del info
        m = config.model
        return ConvGrid(tuple(m.features), int(m.num_downsamples), CELL_OUTPUTS)

    @functools.cached_property
    def anchors(self) -> np.ndarray:
        """``(K, 4)`` squares of half-side ``model.anchor_half`` at the grid cells' centers."""
        grid = self.event_shape[0] // 2 ** int(self.config.model.num_downsamples)
        centers = (np.arange(grid) + 0.5) / grid
        cy, cx = np.meshgrid(centers, centers, indexing="ij")
        c = np.stack([cx.ravel(), cy.ravel()], axis=1)
        half = float(self.config.model.anchor_half)
        return np.concatenate([c - half, c + half], axis=1).astype(np.float32)

    def head(self, params, x):
        """``x (B, H, W, 1)`` -> foreground logits ``(B, K)``, boxes and scales ``(B, K, 4)``."""
        m = self.config.model
        out = self.model.apply(params, x)
        out = out.reshape(out.shape[0], -1, CELL_OUTPUTS)
        means = self.anchors + float(m.offset_scale) * out[..., 1:5]
        scales = detection.box_scales(out[..., 5:9] + float(m.scale_bias), means,
                                      float(m.min_scale_ratio))
        return out[..., 0], means, scales

    def log_joint(self, params, batch):
        """``(B, G, K)`` ``log pi_k + log p_k(b_g)`` and the foreground logits ``(B, K)``."""
        logits, means, scales = self.head(params, batch["x"])
        log_w = jax.vmap(detection.mixing_log_weights)(logits)
        fn = functools.partial(detection.component_log_joint, family=self.config.family)
        return jax.vmap(fn)(batch["boxes"], log_w, means, scales), logits

    def init_params(self, key, batch):
        """The network's parameters."""
        return self.model.init(key, jnp.asarray(batch["x"][:1]))

    def loss_fn(self, params, batch, key, step):
        """``NLL + mcm_weight * MCM`` per image; both terms and the responsibilities as metrics."""
        log_joint, _ = self.log_joint(params, batch)
        nll = jax.vmap(detection.mixture_nll)(log_joint, batch["box_mask"])
        mcm = jax.vmap(detection.max_component_loss)(log_joint, batch["box_mask"])
        return nll + self.config.mcm_weight * mcm, {"nll": nll, "mcm": mcm}

    def eval_fn(self, params, batch, key):
        """Per-image mixture NLL and MCM of the test boxes."""
        _, metrics = self.loss_fn(params, batch, key, 0)
        return metrics

    @functools.partial(jax.jit, static_argnums=0)
    def _predict(self, params, batch):
        log_joint, logits = self.log_joint(params, batch)
        _, means, _ = self.head(params, batch["x"])
        num_boxes = jnp.sum(batch["box_mask"], axis=1, keepdims=True)
        expected_count = num_boxes * jnp.exp(jax.vmap(detection.mixing_log_weights)(logits))
        return (jax.nn.sigmoid(logits), expected_count, means, jnp.argmax(log_joint, -1),
                jnp.exp(jnp.max(log_joint, -1) - jax.nn.logsumexp(log_joint, -1)))

    def predictions(self, params) -> dict[str, np.ndarray]:
        """Confidences, boxes, responsibilities on the first ``num_eval_images`` test images.

        ``expected_count`` is ``G pi_k`` (``G`` the image's number of boxes, as the paper's
        loss scales the weights): the share of the objects that component ``k`` claims.
        """
        test = self.dataset.test
        n = min(int(self.config.num_eval_images), len(test["x"]))
        batch = {k: jnp.asarray(test[k][:n]) for k in ("x", "boxes", "box_mask")}
        conf, count, means, winner, top = map(np.asarray, self._predict(params, batch))
        return {"confidence": conf, "expected_count": count, "boxes": means,
                "winner": winner, "top_resp": top,
                "gt_boxes": test["boxes"][:n], "gt_mask": test["box_mask"][:n] > 0}

    def model_metrics(self, params, key):
        """AP at IoU 0.5 with and without NMS, duplicates per object, responsibilities."""
        p = self.predictions(params)
        conf, boxes, gt, mask = p["confidence"], p["boxes"], p["gt_boxes"], p["gt_mask"]
        nms = np.stack([detection.non_maximum_suppression(c, b) for c, b in zip(conf, boxes)])
        counts = detection.components_per_object(p["expected_count"], boxes, gt, mask,
                                                 float(self.config.count_threshold))
        winner_boxes = np.take_along_axis(boxes, p["winner"][..., None], axis=1)
        winner_iou = np.array([np.diag(detection.box_iou(w, g)) for w, g in
                               zip(winner_boxes, gt)])
        return {"ap50": detection.average_precision(conf, boxes, gt, mask),
                "ap50_nms": detection.average_precision(conf, boxes, gt, mask, pred_mask=nms),
                "components_per_object": float(np.mean(counts)),
                "duplicate_fraction": float(np.mean(counts > 1)),
                "dominant_responsibility": float(np.mean(p["top_resp"][mask])),
                "dominant_iou": float(np.mean(winner_iou[mask]))}


EXPERIMENT = MixtureDetection
