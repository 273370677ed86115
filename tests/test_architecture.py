"""The layer contract (pyproject.toml [tool.importlinter]): layers import downwards only, no import cycles.
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


def test_architecture_contracts_are_kept():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "trainer", copy / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def test_architecture_a_back_edge_or_a_cycle_breaks_the_contracts(tmp_path):
    copy = _copy(tmp_path)
    with open(copy / "trainer" / "data" / "topics.py", "a", encoding="utf-8") as fh:
        fh.write("\n\ndef _back_edge():\n    from trainer.evaluation import evaluate\n    return evaluate\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert "trainer.data is not allowed to import trainer.evaluation" in result.stdout
    assert "No cycles are allowed in trainer." in result.stdout


def test_architecture_a_framework_import_in_workflows_or_console_breaks_the_contracts(tmp_path):
    """transformers/torch belong to the model kinds: a workflow or the console importing one fails lint, while
    reaching them through a kind (trainer.workflows.train -> trainer.models -> ...) is allowed."""
    copy = _copy(tmp_path)
    _append(copy / "trainer" / "workflows" / "train.py", "\nimport transformers  # noqa: E402\n")
    _append(copy / "trainer" / "console" / "summary.py", "\n\ndef _framework():\n    import torch\n    return torch\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert "workflows and console import no ML framework (transformers, torch) themselves BROKEN" in result.stdout
    assert "trainer.workflows is not allowed to import transformers" in result.stdout
    assert "trainer.workflows.train -> transformers" in result.stdout
    assert "trainer.console is not allowed to import torch" in result.stdout
    assert "trainer.console.summary -> torch" in result.stdout
    assert "model kinds never import each other KEPT" in result.stdout


def test_architecture_a_model_kind_importing_another_breaks_the_contracts(tmp_path):
    copy = _copy(tmp_path)
    _append(copy / "trainer" / "models" / "ensemble" / "__init__.py",
            "\n\ndef _direct():\n    from trainer.models.tfidf_linear import TfidfLinearClassifier\n"
            "    return TfidfLinearClassifier\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert "model kinds never import each other BROKEN" in result.stdout
    assert "trainer.models.ensemble is not allowed to import trainer.models.tfidf_linear" in result.stdout
