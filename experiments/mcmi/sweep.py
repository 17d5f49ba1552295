"""The MCMI table [P034] in one process: teachers (MLE and MCMI), then students, per seed.

For every seed: a teacher per ``lambda`` in ``[0] + --cmi_weights`` (0 is MLE),
trained from scratch, and one per ``lambda`` in ``--finetune_cmi_weights``: the
MLE teacher fine-tuned ``--finetune_steps`` more steps with that ``lambda``.
Then, for every transfer setting (``full``: all training digits; ``fewshot``: 5%
of every class; ``omit``: all but class ``--omit_class``), a student trained with
labels alone (``ce``) and one by KD from each teacher. Runs go one after another
(one training process), each into ``WORKDIR/seed{s}/...`` (an existing finished
run is restored, not retrained). Writes ``WORKDIR/results.json`` and prints a
markdown table of mean +- std over the seeds::

    python -m experiments.mcmi.sweep --workdir /tmp/mcmi --seeds 0,1,2 --cmi_weights 1,3 \
        --finetune_cmi_weights 0,1,3
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from experiments.mcmi.experiment import MCMIDistillation
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = {"full": {"train_fraction": 1.0, "omit_class": -1},
            "fewshot": {"train_fraction": 0.05, "omit_class": -1},
            "omit": {"train_fraction": 1.0, "omit_class": None}}


def set_field(config, dotted: str, value) -> None:
    """``config.a.b = value`` for ``dotted = "a.b"``, cast to the existing field's type."""
    *groups, key = dotted.split(".")
    for g in groups:
        config = config[g]
    if key not in config:
        raise ValueError(f"unknown config field {dotted!r}")
    old = config[key]
    if isinstance(value, str) and isinstance(old, (bool, int, float)):
        value = (value.lower() in ("1", "true")) if isinstance(old, bool) else type(old)(value)
    config[key] = value


def run_table(config_spec: str, workdir: str, seeds, cmi_weights, settings, omit_class: int,
              overrides=None, finetune_weights=(), finetune_steps: int = 500) -> list[dict]:
    """Trains every teacher and student; returns one record per run.

    ``overrides`` maps dotted config fields to values applied to every run (e.g.
    ``{"objective.alpha": 1.0}``). Teachers: ``lam{l}`` trained from scratch with
    ``cmi_weight = l`` for ``l`` in ``[0] + cmi_weights``; ``ft{l}`` the MLE teacher
    ``lam0`` fine-tuned for ``finetune_steps`` more steps with ``cmi_weight = l``.
    """
    records = []
    for seed in seeds:
        teachers = {}  # tag -> (workdir, total_steps)

        def train_teacher(tag, lam, seed=seed, **teacher_fields):
            config = load_config(config_spec)
            for k, v in (overrides or {}).items():
                set_field(config, k, v)
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
                config = load_config(config_spec)
                for k, v in (overrides or {}).items():
                    set_field(config, k, v)
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


def main(argv=None):
    """Command line: runs the table and prints it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(HERE, "configs", "digits.py"))
    parser.add_argument("--mode", default="default")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cmi_weights", default="0.2")
    parser.add_argument("--finetune_cmi_weights", default="",
                        help="also fine-tune the MLE teacher with these lambdas")
    parser.add_argument("--finetune_steps", type=int, default=500)
    parser.add_argument("--settings", default="full,fewshot,omit")
    parser.add_argument("--omit_class", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="config override for every run, e.g. objective.alpha=1.0")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    cmi_weights = [float(v) for v in args.cmi_weights.split(",") if v]
    settings = [s for s in args.settings.split(",") if s]
    for s in settings:
        if s not in SETTINGS:
            raise ValueError(f"unknown setting {s!r}; choose from {tuple(SETTINGS)}")
    records = run_table(f"{args.config}:{args.mode}", args.workdir, seeds, cmi_weights,
                        settings, args.omit_class,
                        dict(item.split("=", 1) for item in args.set),
                        [float(v) for v in args.finetune_cmi_weights.split(",") if v],
                        args.finetune_steps)
    os.makedirs(args.workdir, exist_ok=True)
    with open(os.path.join(args.workdir, "results.json"), "w") as f:
        json.dump(records, f, indent=1)
    print(table(records))


if __name__ == "__main__":
    main()
