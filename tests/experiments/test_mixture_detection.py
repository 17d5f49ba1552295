"""mixture_detection [P136]: the rectangles and their boxes, and the detector's loss wiring."""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage

from experiments.mixture_detection.configs import rectangles as rectangles_config
from experiments.mixture_detection.experiment import MixtureDetection
from likelihood_jax.data.synthetic import rectangles
from likelihood_jax.mixtures import detection


def test_boxes_are_exactly_the_connected_bright_regions():
    sample = rectangles.sample_rectangles(np.random.default_rng(0), 40, noise=0.0)
    assert sample["x"].shape == (40, 16, 16, 1)
    for image, boxes, mask, count in zip(sample["x"][..., 0], sample["boxes"],
                                         sample["box_mask"], sample["num_objects"]):
        assert 1 <= count <= 3 and mask.sum() == count
        regions, found = ndimage.label(image > 0.5)
        assert found == count  # no two rectangles touch
        expected = sorted((s[1].start, s[0].start, s[1].stop, s[0].stop)
                          for s in ndimage.find_objects(regions))
        got = sorted(tuple(np.rint(b * 16).astype(int)) for b in boxes[mask > 0])
        assert got == expected
        sides = np.diff(np.asarray(got).reshape(-1, 2, 2), axis=1)
        assert sides.min() >= 3 and sides.max() <= 7
        assert np.all(image[regions > 0] == 1.0)  # filled rectangles


def test_loss_is_nll_plus_weighted_mcm_per_image():
    config = rectangles_config.get_config("runlocal")
    sample = rectangles.sample_rectangles(np.random.default_rng(1), 3)
    batch = {k: jnp.asarray(v) for k, v in sample.items()}
    exp = MixtureDetection(config)
    exp.dataset = rectangles.load_rectangles("rectangles", num_train=4, num_test=4)
    g = int(sample["num_objects"][0])

    @jax.jit
    def run(key):
        params = exp.init_params(key, batch)
        loss, metrics = exp.loss_fn(params, batch, None, 0)
        # one image by hand: K = 8 x 8 grid components, the NLL of its real boxes only
        logits, means, scales = exp.head(params, batch["x"][:1])
        lj = detection.component_log_joint(batch["boxes"][0, :g],
                                           detection.mixing_log_weights(logits[0]), means[0],
                                           scales[0])
        return loss, metrics, -jax.nn.logsumexp(lj, axis=1).sum(), means

    loss, metrics, nll0, means = run(jax.random.key(0))
    assert loss.shape == (3,) and means.shape == (1, 64, 4)
    np.testing.assert_allclose(loss, metrics["nll"] + config.mcm_weight * metrics["mcm"],
                               rtol=1e-6)
    np.testing.assert_allclose(metrics["nll"][0], nll0, rtol=1e-5)


def check_runlocal(workdir):
    """The end-to-end run logged the duplicate and responsibility metrics in range."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        test = [json.loads(line) for line in f if '"split": "test"' in line][-1]
    assert 0.0 <= test["ap50"] <= 1.0 and 0.0 <= test["ap50_nms"] <= 1.0
    assert 0.0 < test["dominant_responsibility"] <= 1.0
    assert test["components_per_object"] >= 0.0
