"""Experiment hooks the shared loop calls: ``after_update`` (e.g. an EMA teacher)."""

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.train import Experiment, loop
from likelihood_jax.train import config as config_lib


class EMATeacher(Experiment):
    """Student ``w`` regressed onto the data mean; teacher = EMA of the student, no gradient."""

    decay = 0.5

    def init_params(self, key, batch):
        del key, batch
        return {"student": jnp.zeros(2), "teacher": jnp.zeros(2),
                "updates": jnp.zeros(()), "last_step": -jnp.ones(())}

    def loss_fn(self, params, batch, key, step):
        del key, step
        teacher = jax.lax.stop_gradient(params["teacher"])
        loss = jnp.sum((batch["x"] - params["student"]) ** 2, axis=-1)
        return loss + 0.0 * jnp.sum(teacher), {}

    def model_metrics(self, params, key):
        del key
        return {"updates": float(params["updates"]), "last_step": float(params["last_step"]),
                **{f"{name}_{i}": float(params[name][i])
                   for name in ("student", "teacher") for i in range(2)}}

    def after_update(self, params, step):
        teacher = self.decay * params["teacher"] + (1 - self.decay) * params["student"]
        return dict(params, teacher=teacher, updates=params["updates"] + 1,
                    last_step=step.astype(jnp.float32))


def test_after_update_runs_once_per_step_with_that_step(tmp_path):
    config = config_lib.base_config("hooks", dataset="moons")
    config.total_steps, config.batch_size, config.checkpoint_every = 7, 32, 100
    config.num_plot_samples = 0
    experiment = EMATeacher(config)
    metrics = loop.train_and_evaluate(experiment, str(tmp_path))
    assert metrics["updates"] == 7 and metrics["last_step"] == 6
    student = np.array([metrics["student_0"], metrics["student_1"]])
    teacher = np.array([metrics["teacher_0"], metrics["teacher_1"]])
    # The teacher moved (EMA of a moving student), lags behind it, and got no optimizer update
    # of its own: with decay 1/2 and the student moving monotonically from 0 it is nonzero and
    # strictly between 0 and the student in each coordinate.
    assert np.all(np.abs(teacher) > 0) and np.all(np.abs(teacher) < np.abs(student))
    assert np.all(np.sign(teacher) == np.sign(student))


def test_dataset_and_model_first_read_inside_jit_are_concrete():
    import jax
    import jax.numpy as jnp
    import ml_collections
    import numpy as np

    from likelihood_jax import data
    from likelihood_jax.train import Experiment

    class JaxBuilt(Experiment):
        def make_dataset(self, config):
            x = np.asarray(jnp.arange(6.0).reshape(3, 2))  # jax work while building data
            info = data.DatasetInfo(kind="continuous", event_shape=(2,))
            return data.Dataset("jax_built", {"x": x}, {"x": x}, info)

        def make_model(self, config, info):
            return jnp.ones(info.event_shape) * 2.0

    experiment = JaxBuilt(ml_collections.ConfigDict({"dataset": {"name": "jax_built"}}))
    out = jax.jit(lambda: jnp.sum(experiment.dataset.train["x"]) + jnp.sum(experiment.model))()
    assert float(out) == 19.0
    assert isinstance(experiment.model, jax.Array)
    assert not isinstance(experiment.model, jax.core.Tracer)
