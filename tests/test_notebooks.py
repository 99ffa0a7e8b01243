"""The teaching notebooks: structure, stripped outputs, and a smoke-mode run of each in CI.

Every exercise placeholder is replaced by its model solution before the run
(:func:`bpartis_nb.exercises.fill_solutions`), so each check cell is seen passing on a
right answer; tests/test_exercises.py sees the checks fail on wrong ones.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bpartis_nb.exercises import EXERCISES, fill_solutions

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NUMBERED = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]
EXPECTED = ["01_dataset_exploration.ipynb", "02_training.ipynb", "03_bayesian_inference.ipynb",
            "04_uncertainty_decomposition.ipynb", "05_particle_analysis.ipynb"]
ANSWER = re.compile(r"^answer_(\d+)_(\d+)\s*=\s*\.\.\.", re.M)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def test_the_five_numbered_notebooks_and_the_dashboard_exist():
    assert [p.name for p in NUMBERED] == EXPECTED
    assert (ROOT / "notebooks" / "dashboard.ipynb").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_stripped(path):
    """Notebooks are committed without outputs or execution counts."""
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: clear them before committing"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in json.loads(path.read_text())["metadata"], f"{path.name} stores widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_installs_the_package_on_colab(path):
    code = [_source(c) for c in _cells(path) if c["cell_type"] == "code"]
    first = code[0]
    assert '"google.colab" in sys.modules' in first and "pip" in first and "install" in first
    url = re.search(r"git\+(https://github\.com/[\w.-]+/[\w.-]+)", first)
    assert url, "the Colab cell must install from the repository"
    from test_packaging import repository_url

    assert url.group(1) == repository_url()


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.stem)
def test_notebook_structure(path):
    cells = _cells(path)
    intro = _source(cells[0])
    for heading in ("Learning goals", "Prerequisites", "Run time"):
        assert heading in intro, f"{path.name}: the first cell must state its {heading.lower()}"
    setup = _source(cells[1])
    assert "SMOKE_TEST" in setup and '"CI"' in setup, "the set-up cell must define SMOKE_TEST (on when CI is set)"
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        src = _source(cell)
        assert not re.search(r"^\s*(def|class) ", src, re.M), f"{path.name} cell {i} defines a function or class"
        for m in ANSWER.finditer(src):
            key = f"{m.group(1)}.{m.group(2)}"
            nxt = _source(cells[i + 1])
            assert f'exercises.check("{key}", answer_{m.group(1)}_{m.group(2)}' in nxt, (
                f"{path.name}: exercise {key} must be followed by its check cell")
    number = path.name[:2].lstrip("0")
    keys = [f"{m.group(1)}.{m.group(2)}" for c in cells if c["cell_type"] == "code" for m in ANSWER.finditer(_source(c))]
    assert len(keys) >= 2 and all(k.split(".")[0] == number for k in keys), keys


def test_every_exercise_appears_once():
    keys = []
    for path in NUMBERED:
        keys += [f"{m.group(1)}.{m.group(2)}" for c in _cells(path) if c["cell_type"] == "code"
                 for m in ANSWER.finditer(_source(c))]
    assert sorted(keys) == sorted(EXERCISES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_mode(path, tmp_path, monkeypatch, published_weights, emps_dir):
    """Top to bottom in a real kernel, as CI does; a failing cell fails the test."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("SMOKE_TEST", "1")
    monkeypatch.setenv("BPARTIS_NB_WEIGHTS", str(published_weights))
    monkeypatch.setenv("BPARTIS_NB_EMPS", str(emps_dir))
    nb = nbformat.read(path, as_version=4)
    filled = fill_solutions(nb)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                      if o.output_type == "stream")
    for key in filled:
        assert f"Exercise {key}: correct." in printed
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    if path in NUMBERED:
        assert images >= 3, f"{path.name} showed {images} figures"
