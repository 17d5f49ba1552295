"""Every notebook in colabs/ runs top to bottom at tiny size."""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.clitools import REPO

NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "colabs", "*.ipynb")))
# The quickstart runs in the default tier; the per-family notebooks (10-20 s each) nightly.
DEFAULT_TIER = ("quickstart.ipynb",)


@pytest.mark.parametrize("path", [
    p if os.path.basename(p) in DEFAULT_TIER else pytest.param(p, marks=pytest.mark.nightly)
    for p in NOTEBOOKS], ids=os.path.basename)
def test_notebook_executes(path, monkeypatch, tmp_path):
    monkeypatch.setenv("LIKELIHOOD_JAX_TINY", "1")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_there_is_a_quickstart():
    assert any(p.endswith("quickstart.ipynb") for p in NOTEBOOKS)
