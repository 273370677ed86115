"""The layer rules (pyproject.toml [tool.importlinter]): layers import downwards only, no import cycles.
Imports inside functions count, so no lazy import can hide a back-edge."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())", "--no-cache"]


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(LINT, cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_architecture_layer_rules_are_kept():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_architecture_a_back_edge_or_a_cycle_breaks_the_layer_rules(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "trainer", copy / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    with open(copy / "trainer" / "data" / "topics.py", "a", encoding="utf-8") as fh:
        fh.write("\n\ndef _back_edge():\n    from trainer.evaluation import evaluate_on_split\n    return evaluate_on_split\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert "trainer.data is not allowed to import trainer.evaluation" in result.stdout
    assert "No cycles are allowed in trainer." in result.stdout
