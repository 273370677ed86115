"""Shared fixtures. Real-data fixtures skip with a reason when the data mirror is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _mirror() -> Path | None:
    env = os.environ.get("TRAINER_DATA_MIRROR")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    d = _mirror()
    if d is None:
        pytest.skip("data mirror absent: set TRAINER_DATA_MIRROR to a folder holding reuters21578.tar.gz")
    return d


@pytest.fixture(scope="session")
def reuters_archive(mirror_dir) -> Path:
    p = mirror_dir / "reuters21578.tar.gz"
    if not p.is_file():
        pytest.skip(f"{p} absent: the Reuters-21578 archive is needed for this test")
    return p


@pytest.fixture(scope="session")
def scraped_sample_dir(mirror_dir) -> Path:
    d = mirror_dir / "samples" / "scraped"
    if not d.is_dir() or not any(d.iterdir()):
        pytest.skip(f"{d} absent: the shared scraped sample page is needed for this test")
    return d


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from trainer.training.models import resolve_model_path
    return Path(resolve_model_path("minilm-l6"))
