"""The MCMI table [P034] as one ``Procedure``: teachers (MLE and MCMI), then students, per seed.

For every seed of ``sweep.seeds``: a teacher per ``lambda`` in ``[0] + sweep.cmi_weights``
(0 is MLE), trained from scratch, and one per ``lambda`` in
``sweep.finetune_cmi_weights``: the MLE teacher fine-tuned ``sweep.finetune_steps``
more steps with that ``lambda``. Then, for every transfer setting of ``sweep.settings``
(``full``: all training digits; ``fewshot``: 5% of every class; ``omit``: all but class
``sweep.omit_class``), a student trained with labels alone (``ce``) and one by KD from
each teacher. Every run is the config without ``sweep`` (so ``--config.<field>`` flags
reach them all), trained one after another into ``WORKDIR/seed{s}/...`` (a finished run
is restored, not retrained). Writes ``WORKDIR/results.json`` and ``WORKDIR/table.md``
(mean +- std over the seeds), and logs the seed-mean accuracy of every row (the
default: the README's tables, seeds 0, 1, 2)::

    C=experiments/mcmi/configs/sweep.py
    python -m likelihood_jax.main --config $C --workdir /tmp/mcmi
"""

from __future__ import annotations

import copy
import json
import os

import ml_collections
import numpy as np

from likelihood_jax.train import train_and_evaluate
from likelihood_jax.train.procedure import Procedure

SETTINGS = {"full": {"train_fraction": 1.0, "omit_class": -1},
            "fewshot": {"train_fraction": 0.05, "omit_class": -1},
            "omit": {"train_fraction": 1.0, "omit_class": None}}


def run_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The config of one run of the table: ``config`` as one ``mcmi`` run, without ``sweep``."""
    out = copy.deepcopy(config)
    with out.unlocked():
        out.experiment = "mcmi"
        for group in ("sweep", "stages"):
            if group in out:
                del out[group]
    return out


def run_table(config: ml_collections.ConfigDict, workdir: str, seeds, cmi_weights, settings,
              omit_class: int, finetune_weights=(), finetune_steps: int = 500) -> list[dict]:
    """Trains every teacher and student of the table; returns one record per run.

    Teachers: ``lam{l}`` trained from scratch with ``cmi_weight = l`` for ``l`` in
    ``[0] + cmi_weights``; ``ft{l}`` the MLE teacher ``lam0`` fine-tuned for
    ``finetune_steps`` more steps with ``cmi_weight = l``. Every run starts from
    :func:`run_config` of ``config``.

    Raises:
      ValueError: an unknown setting.
    """
    from experiments.mcmi.experiment import MCMIDistillation  # noqa: PLC0415 (a cycle)

    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise ValueError(f"unknown sweep.settings {unknown}; choose from {tuple(SETTINGS)}")
    base = run_config(config)
    records = []
    for seed in seeds:
        teachers = {}  # tag -> (workdir, total_steps)

        def train_teacher(tag, lam, seed=seed, **teacher_fields):
            config = copy.deepcopy(base)
            config.seed = seed
            config.role = "teacher"
            config.teacher.cmi_weight = lam
            config.teacher.update(teacher_fields)
            wd = os.path.join(workdir, f"seed{seed}", f"teacher_{tag}")
            metrics = train_and_evaluate(MCMIDistillation(config), wd)
            teachers[tag] = (wd, int(config.teacher.total_steps))
            records.append({"seed": seed, "role": "teacher", "teacher": tag, "cmi_weight": lam,
                            **metrics})

        for lam in [0.0] + list(cmi_weights):
            train_teacher(f"lam{lam:g}", lam)
        mle_dir, mle_steps = teachers["lam0"]
        for lam in finetune_weights:
            train_teacher(f"ft{lam:g}", lam, init_from=mle_dir, init_steps=mle_steps,
                          total_steps=int(finetune_steps))
        for setting in settings:
            data = dict(SETTINGS[setting])
            if data["omit_class"] is None:
                data["omit_class"] = omit_class
            students = [("ce", None)] + [("kd", tag) for tag in teachers]
            for name, tag in students:
                config = copy.deepcopy(base)
                config.seed = seed
                config.role = "student"
                config.data.update(data)
                config.data.subset_seed = seed
                config.objective.name = name
                if tag is not None:
                    config.teacher.workdir, config.teacher.total_steps = teachers[tag]
                run = "ce" if tag is None else f"kd_{tag}"
                wd = os.path.join(workdir, f"seed{seed}", f"{setting}_{run}")
                metrics = train_and_evaluate(MCMIDistillation(config), wd)
                records.append({"seed": seed, "role": "student", "setting": setting,
                                "student": run, **metrics})
    return records


def _row(record: dict) -> tuple[str, str]:
    if record["role"] == "teacher":
        return "teacher", record["teacher"]
    return record["setting"], record["student"]


def summary(records) -> dict[str, float]:
    """Seed means: ``<group>_<run>_accuracy`` (and ``_accuracy_omitted``) of every row.

    ``best_student_accuracy`` is the highest seed-mean student accuracy.
    """
    rows = {}
    for r in records:
        rows.setdefault(_row(r), []).append(r)
    out = {}
    for (group, name), rs in rows.items():
        for key in ("accuracy", "accuracy_omitted"):
            values = [r[key] for r in rs if key in r]
            if values:
                out[f"{group}_{name}_{key}"] = float(np.mean(values))
    students = [float(np.mean([r["accuracy"] for r in rs]))
                for (group, _), rs in rows.items() if group != "teacher"]
    if students:
        out["best_student_accuracy"] = max(students)
    return out


class MCMISweep(Procedure):
    """The whole table (``config.sweep``) in one process: see the module docstring."""

    headline_metric = "best_student_accuracy"

    def run(self, workdir):
        """Trains the table into ``workdir``; writes results.json and table.md."""
        sweep = self.config.sweep
        if not sweep.settings:
            raise ValueError("sweep.settings is empty: the table needs at least one setting")
        records = run_table(self.config, workdir, tuple(sweep.seeds),
                            tuple(float(v) for v in sweep.cmi_weights), tuple(sweep.settings),
                            int(sweep.omit_class),
                            tuple(float(v) for v in sweep.finetune_cmi_weights),
                            int(sweep.finetune_steps))
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump(records, f, indent=1)
        text = table(records)
        with open(os.path.join(workdir, "table.md"), "w") as f:
            f.write(text + "\n")
        print(text, flush=True)
        return summary(records)


def table(records) -> str:
    """Markdown: mean +- std over seeds of test accuracy (and omitted-class accuracy)."""
    rows = {}
    for r in records:
        key = (("teacher", r["teacher"]) if r["role"] == "teacher"
               else (r["setting"], r["student"]))
        rows.setdefault(key, []).append(r)
    lines = ["| run | student / teacher | test accuracy | test NLL | test CMI | omitted-class acc |"
             " seeds |", "|---|---|---|---|---|---|---|"]
    for (group, name), rs in rows.items():
        def stat(k, rs=rs):
            vals = [r[k] for r in rs if k in r]
            if not vals:
                return "-"
            return f"{np.mean(vals):.4f} +- {np.std(vals):.4f}"
        lines.append(f"| {group} | {name} | {stat('accuracy')} | {stat('nll')} | {stat('cmi')} |"
                     f" {stat('accuracy_omitted')} | {len(rs)} |")
    return "\n".join(lines)
