"""likelihood_jax.continuous_time.presets: fresh config blocks with the documented fields."""

import pytest

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode, base_config


def test_blocks_are_fresh_and_carry_their_fields():
    a, b = presets.vp_sde(), presets.vp_sde(weighting="likelihood")
    a.beta_max = 5.0
    assert (b.beta_min, b.beta_max, b.t_min, b.weighting) == (0.1, 20.0, 1e-3, "likelihood")
    mlp = presets.fourier_time_mlp((8, 8), 4.0, event_shape=(2,))
    assert mlp.to_dict() == {"hidden_dims": (8, 8), "activation": "silu",
                             "num_frequencies": 8, "max_frequency": 4.0, "event_shape": (2,)}
    model = presets.image_model("mnist5k", arch="unet", **presets.unet())
    assert model.event_shape == (28, 28, 1) and model.channel_mults == (1, 2)
    with pytest.raises(ValueError, match="unknown image dataset"):
        presets.image_model("cifar10")
    ev = presets.ode_eval(64, nll=True)
    assert (ev.num_examples, ev.solver, ev.rtol, ev.atol, ev.nll) == (64, "dopri5", 1e-4, 1e-4,
                                                                      True)


def test_run_length_is_a_mode_override():
    assert presets.run_length(40, 10) == {"total_steps": 40, "log_every": 10,
                                          "checkpoint_every": 40}
    config = base_config("x", dataset="moons")
    apply_mode(config, "runlocal", {"runlocal": presets.run_length(300, 50, 100,
                                                                   ema_decay=0.5)})
    assert (config.total_steps, config.log_every, config.checkpoint_every,
            config.ema_decay) == (300, 50, 100, 0.5)
