"""Label proportions by BP [P231]: the bags of the dataset, the padded counting factors and
the BP pseudo-labels of a bag with no other evidence (closed form: the bag's proportion)."""

from __future__ import annotations

import jax
import numpy as np

from likelihood_jax.data.synthetic.label_proportions import bag_sizes
from likelihood_jax.structured import belief_propagation as bp


def test_bag_sizes_cover_every_item_within_bounds():
    for seed in range(20):
        sizes = bag_sizes(1500, 8, 32, np.random.default_rng(seed))
        assert sizes.sum() == 1500 and sizes.min() >= 8 and sizes.max() <= 32


def test_counting_factors_alone_give_each_member_its_bag_proportion():
    # Two bags (sizes 5 and 3, padded to 6 slots; a third, empty bag of padding) with hard
    # counts 2 and 3 and no other factors: by symmetry p(y_i = 1) = count / size.
    bag_index = np.array([0, 1, 0, 0, 1, 0, 0, 1])
    bags, mask = bp.bags_from_index(bag_index, num_bags=3, num_slots=6)
    np.testing.assert_array_equal(mask.sum(1), [5, 3, 0])
    np.testing.assert_array_equal(np.sort(bags[0][mask[0]]), [0, 2, 3, 5, 6])
    phi = bp.label_count_log_potentials(np.array([2, 3, 0]), mask.sum(1), 6)
    result = jax.jit(lambda: bp.belief_propagation_marginals(
        np.zeros((8, 2)), None, None, bags, mask, phi, num_iters=3))()
    expected = np.where(bag_index == 0, 2 / 5, 1.0)
    np.testing.assert_allclose(result.marginals, expected, atol=1e-6)
