"""The layer rules (pyproject.toml [tool.importlinter]): layers import downwards only, no import cycles.
Imports inside functions count, so no lazy import can hide a back-edge."""
from __future__ import annotations

import os
import re
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
    assert "4 kept, 0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "trainer", copy / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def test_architecture_a_back_edge_or_a_cycle_breaks_the_layer_rules(tmp_path):
    copy = _copy(tmp_path)
    with open(copy / "trainer" / "data" / "topics.py", "a", encoding="utf-8") as fh:
        fh.write("\n\ndef _back_edge():\n    from trainer.evaluation import evaluate_on_split\n    return evaluate_on_split\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert "trainer.data is not allowed to import trainer.evaluation" in result.stdout
    assert "No cycles are allowed in trainer." in result.stdout


def test_architecture_a_framework_import_in_workflows_or_console_breaks_the_layer_rules(tmp_path):
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


def test_architecture_a_model_kind_importing_another_breaks_the_layer_rules(tmp_path):
    copy = _copy(tmp_path)
    _append(copy / "trainer" / "models" / "ensemble" / "__init__.py",
            "\n\ndef _direct():\n    from trainer.models.tfidf_linear import TfidfLinearClassifier\n"
            "    return TfidfLinearClassifier\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert "model kinds never import each other BROKEN" in result.stdout
    assert "trainer.models.ensemble is not allowed to import trainer.models.tfidf_linear" in result.stdout


def _imported_modules(path: Path) -> set[str]:
    """Top-level names of the modules `path` imports (anywhere in it), and of files it loads by path."""
    import ast
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "spec_from_file_location":
            names.add("<loaded by path>")
    return names


def test_architecture_tests_and_scripts_import_nothing_from_each_other():
    """What both need lives in the package: tests import no script (nor put scripts/ on sys.path), scripts
    import nothing from tests/. A test runs a script only as a program."""
    scripts = {p.stem for p in (REPO / "scripts").glob("*.py")}
    tests = {p.stem for p in (REPO / "tests").glob("*.py")} | {"tests"}
    from_scripts = {p.name: sorted(_imported_modules(p) & (scripts | {"<loaded by path>"}))
                    for p in (REPO / "tests").glob("*.py")}
    from_tests = {p.name: sorted(_imported_modules(p) & tests) for p in (REPO / "scripts").glob("*.py")}
    assert {k: v for k, v in from_scripts.items() if v} == {}
    assert {k: v for k, v in from_tests.items() if v} == {}
    assert [p.name for p in (REPO / "tests").glob("*.py")
            if re.search(r"sys\.path\.(insert|append)\(", p.read_text(encoding="utf-8"))] == []
