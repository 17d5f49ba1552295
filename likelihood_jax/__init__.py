"""likelihood_jax: likelihood-based training in JAX.

The library is organized in layers; each may import only the layers named for it
(``tests/test_layering.py`` checks this on every test run).

Core (pure functions of arrays; import only core, jax, numpy and other third-party code)
    ``estimators`` (divergence estimators), ``score_matching``, ``distributions``,
    ``transport``, ``ode``, ``sde``, ``metrics`` (a package re-exporting every name),
    ``types``, ``gaussian_process``, ``scoring``. Usable without the trainer::

        from likelihood_jax import score_matching
        loss = score_matching.sliced_score_matching(score_fn, x, key)

Infrastructure (imports core and infrastructure; never ``train`` or a family)
    ``data`` (datasets by name: ``data.load_dataset(name, **options)``; the tfds builders
    in ``data/builders/``; generators of synthetic data in ``data/synthetic/``, registered
    by name in ``data/loader.py``), ``models`` (flax.linen networks).

Trainer (imports anything in ``likelihood_jax``)
    ``train`` (the ``Experiment`` base class, the loop, checkpoints, config helpers in
    ``train.config``) and ``main`` (the command line:
    ``python -m likelihood_jax.main --config experiments/<slug>/configs/<c>.py:runlocal``).

Families (one package per kind of model)
    ``flows``, ``continuous_time``, ``sequence``, ``mixtures``, ``structured``, ``energy``,
    ``variational``, ``predictive``. A family imports core, ``data``, ``models`` and
    itself, never another family. Its ``__init__`` docstring indexes its modules and the
    papers they implement; each ``<method>.py`` is a pure module citing its paper id
    (``[Pxxx]``); only its ``experiment.py`` (the family's ``Experiment`` bases) imports
    ``train``; its ``presets.py`` holds config blocks as functions returning
    ``ml_collections.ConfigDict`` and imports only ``ml_collections``.

Experiments (``experiments/<slug>/``, outside this package)
    ``experiment.py`` wires library pieces into an ``Experiment`` (no new math),
    ``configs/*.py`` define ``get_config(arg)`` and import only ``ml_collections``,
    ``likelihood_jax.train.config``, presets and sibling configs (loading a config imports
    no jax), and a
    ``README.md`` reports the numbers. An experiment never imports another experiment,
    and nothing in ``likelihood_jax`` imports ``experiments``.

Where new code goes: math that several families could use goes to core; a dataset goes
behind the ``data`` registry (a loader ``loader(name, data_dir, **options) -> Dataset``,
named in ``config.dataset``), never inline in an experiment; a network goes to
``models``; a method goes to its family (a new family package if none fits); code that
two families need moves down to core, ``data`` or ``models`` instead of one family
importing the other; an experiment keeps only its wiring and configs.
"""

__version__ = "0.1.0"
