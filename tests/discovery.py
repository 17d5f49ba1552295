"""The experiments on disk, their family and the end-to-end declaration of each.

Shared by the end-to-end harness (``tests/test_experiments_e2e.py``) and the experiments
index test (``tests/test_docs_experiments.py``).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pathlib
from typing import Mapping

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
FAMILIES = ("flows", "continuous_time", "sequence", "energy", "mixtures", "structured",
            "variational", "predictive")


def slugs_on_disk() -> list[str]:
    """Every ``experiments/<slug>/`` with an ``experiment.py``, sorted."""
    return sorted(p.parent.name for p in EXPERIMENTS.glob("*/experiment.py"))


def family_of(slug: str) -> str:
    """The family of ``experiments/<slug>/experiment.py`` (see :func:`family_from_source`)."""
    return family_from_source((EXPERIMENTS / slug / "experiment.py").read_text(),
                              f"experiments/{slug}/experiment.py")


def family_from_source(source: str, where: str = "<source>") -> str:
    """The one family package an experiment module imports, or the one it declares.

    An experiment imports exactly one family package, which is its family. A module that
    compares families (the density zoo) imports several and declares the section it is
    listed under with a module-level ``FAMILY = "<family>"``: it must name one of the
    families the module imports.
    """
    tree = ast.parse(source)
    found, declared = set(), None
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "likelihood_jax":
            found |= {alias.name for alias in node.names}  # from likelihood_jax import flows
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("likelihood_jax."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names
                      if a.name.startswith("likelihood_jax.")}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "FAMILY" for t in node.targets):
            declared = ast.literal_eval(node.value)
    found &= set(FAMILIES)
    if declared is not None:
        if declared not in found:
            raise ValueError(f"{where} declares FAMILY = {declared!r}, which is not one of the "
                             f"families it imports {sorted(found)}")
        return declared
    if len(found) != 1:
        raise ValueError(f"{where} imports families {sorted(found)}, expected exactly one "
                         f"(or a FAMILY = \"<family>\" declaration naming one of them)")
    return found.pop()


@dataclasses.dataclass(frozen=True)
class EndToEnd:
    """What ``experiments/<slug>/configs/__init__.py`` declares for the harness.

    Attributes:
      slug: the experiment folder.
      config: ``PRIMARY``, the config file (without ``.py``) run in its ``runlocal`` mode.
      artifacts: ``ARTIFACTS``, files the run must leave (paths relative to the workdir;
        a chain's stages write into ``<stage>/``), besides what the harness checks anyway.
      progress: ``PROGRESS``, per run (``""`` for a single run, else the stage's name), the
        training metric that must end lower than it started (default ``"loss"``), or None
        for a run that is not expected to lower one in a few steps (a Procedure, or a stage
        that ascends a loss); the reason is written beside it.
    """

    slug: str
    config: str
    artifacts: tuple[str, ...] = ()
    progress: Mapping[str, str | None] = dataclasses.field(default_factory=dict)

    @property
    def config_spec(self) -> str:
        return str(EXPERIMENTS / self.slug / "configs" / f"{self.config}.py") + ":runlocal"

    def progress_metric(self, run: str) -> str | None:
        return self.progress.get(run, "loss")


def end_to_end(slug: str) -> EndToEnd:
    """The declaration of ``experiments/<slug>/configs/__init__.py``."""
    module = importlib.import_module(f"experiments.{slug}.configs")
    if not hasattr(module, "PRIMARY"):
        raise ValueError(f"experiments/{slug}/configs/__init__.py defines no PRIMARY (the "
                         f"config the end-to-end harness runs)")
    return EndToEnd(slug, module.PRIMARY, tuple(getattr(module, "ARTIFACTS", ())),
                    dict(getattr(module, "PROGRESS", {})))
