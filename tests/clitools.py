"""Helpers for tests that run the command line in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY2D = os.path.join(REPO, "experiments", "mle_flow", "configs", "toy2d.py")


def env(**extra: str) -> dict[str, str]:
    """The environment for a CPU subprocess of the command line."""
    out = dict(os.environ)
    out.update({"JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"})
    out["XLA_FLAGS"] = "--xla_backend_optimization_level=0"  # as in-process (tests/conftest.py)
    out.update(extra)
    return out


def main_command(config: str, workdir: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "likelihood_jax.main", "--config", config,
            "--workdir", str(workdir), *args]


def run_main(config: str, workdir: str, *args: str, timeout: float = 300,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs ``python -m likelihood_jax.main`` and returns the finished process."""
    return subprocess.run(main_command(config, workdir, *args), cwd=REPO,
                          env=env(**(extra_env or {})), capture_output=True, text=True,
                          timeout=timeout)


def metrics(workdir) -> list[dict]:
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def train_lines(workdir) -> list[dict]:
    return [m for m in metrics(workdir) if "split" not in m]


def eval_lines(workdir) -> list[dict]:
    return [m for m in metrics(workdir) if m.get("split") == "test"]


def checkpoint_steps(workdir) -> list[int]:
    folder = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(folder):
        return []
    return sorted(int(n) for n in os.listdir(folder) if n.isdigit())


def corrupt_checkpoint(folder) -> None:
    """Flips the second half of the bytes of every file of the saved state under ``folder``.

    ``folder`` is one step's checkpoint (``.../checkpoints/<step>``) or the folder of all.
    """
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if os.sep + "state" + os.sep in path and os.path.getsize(path) > 0:
                with open(path, "r+b") as f:
                    data = bytearray(f.read())
                    data[len(data) // 2:] = bytes(b ^ 0xFF for b in data[len(data) // 2:])
                    f.seek(0)
                    f.write(data)
