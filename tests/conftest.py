"""Shared fixtures: the published weights and EMPS copy in ../shared, a tiny random model,
and an isolated cache so that no test reads or writes the user's own cache."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

#: ``shared/`` lies beside the project checkout (see shared/README.md).
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PUBLISHED_WEIGHTS = SHARED / "weights" / "bpartis-emps-2021.pt"
EMPS = SHARED / "emps"

# One intra-op thread by default: the test inputs are small, and on a busy machine (or
# under pytest-xdist) several OpenMP threads per process wait on each other and run a
# 64 x 64 forward pass a hundred times slower. BPARTIS_NB_TEST_THREADS overrides it.
torch.set_num_threads(max(1, int(os.environ.get("BPARTIS_NB_TEST_THREADS", "1"))))


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch, tmp_path):
    """Point the bpartis_nb cache at a fresh folder; no user weights or EMPS path leak in.

    Test modules with their own environment fixture (tests/test_weights.py) run theirs
    after this one, so theirs wins.
    """
    monkeypatch.setenv("BPARTIS_NB_CACHE", str(tmp_path / "bpartis_nb-cache"))
    monkeypatch.delenv("BPARTIS_NB_WEIGHTS", raising=False)
    monkeypatch.delenv("BPARTIS_NB_EMPS", raising=False)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def published_weights(shared_dir) -> Path:
    if not PUBLISHED_WEIGHTS.is_file():
        pytest.skip(f"published weights not found at {PUBLISHED_WEIGHTS}")
    return PUBLISHED_WEIGHTS


@pytest.fixture(scope="session")
def published_model(published_weights):
    from bpartis_nb.weights import load_model

    return load_model(published_weights, device="cpu")


@pytest.fixture(scope="session")
def tiny_model():
    """A randomly initialised network in eval mode (for logic tests, with small inputs)."""
    from bpartis_nb.model import BranchedERFNet

    torch.manual_seed(0)
    return BranchedERFNet().eval()


@pytest.fixture(scope="session")
def emps_dir(shared_dir) -> Path:
    if not ((EMPS / "images").is_dir() and (EMPS / "segmaps").is_dir() and (EMPS / "test.csv").is_file()):
        pytest.skip(f"EMPS data set not found at {EMPS}")
    return EMPS
