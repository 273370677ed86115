"""The documentation: the config reference is generated from the schemas and kept up to date, every schema field has
a description, and the MkDocs site builds without a warning."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from trainer.config import StrictModel
from trainer.config.run_config import RunConfig
from trainer.data.config import DataConfig
from trainer.workflows import config_reference as gen

REPO = Path(__file__).resolve().parents[1]


def _generator(*args: str) -> subprocess.CompletedProcess:
    """scripts/gen_config_reference.py run as it is run by hand (tests import nothing from scripts/)."""
    return subprocess.run([sys.executable, str(REPO / "scripts" / "gen_config_reference.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_docs_config_reference_is_up_to_date():
    committed = (REPO / "docs" / "reference" / "configs.md").read_text(encoding="utf-8")
    assert committed == gen.render(), ("docs/reference/configs.md is out of date with the config schemas; "
                                       "run: python scripts/gen_config_reference.py")


def test_docs_generator_check_reports_a_stale_file_and_writes_it(tmp_path):
    out = tmp_path / "configs.md"
    out.write_text("# an older reference\n", encoding="utf-8")
    stale = _generator("--check", "--out", str(out))
    assert stale.returncode == 1 and "out of date" in stale.stderr
    assert out.read_text(encoding="utf-8") == "# an older reference\n"   # --check writes nothing
    assert _generator("--out", str(out)).returncode == 0
    assert out.read_text(encoding="utf-8") == gen.render()
    assert _generator("--check", "--out", str(out)).returncode == 0


def test_docs_every_config_field_has_a_description():
    assert gen.missing_descriptions(RunConfig, DataConfig) == []


def test_docs_a_field_without_a_description_is_found():
    class Inner(StrictModel):
        """A nested section."""
        depth: int = 3

    class Outer(StrictModel):
        """A config."""
        name: str = Field("x", description="Documented.")
        inner: Inner = Field(default_factory=Inner, description="Documented section, undocumented key inside.")
        mode: Literal["a", "b"] = "a"

    assert gen.missing_descriptions(Outer) == ["mode (Outer.mode)", "inner.depth (Inner.depth)"]


def test_docs_reference_reaches_every_section_and_kind():
    text = gen.render()
    rows = {line.split(" | ")[0].strip("| `"): line for line in text.splitlines() if line.startswith("| `")}
    # each model kind's keys, sections nested in a kind, list entries, named members, the data config
    for key in ("model.max_length", "model.reading.pool", "model.tfidf.C", "model.granularity", "model.combine",
                "model.members.NAME.weight", "task.targets[].gazetteer", "eval.chunking.max_chunks",
                "source.columns.body", "source.profile.boilerplate_sample", "labels.region.from_text",
                "build.engine"):
        assert key in rows, key
    # type, default, allowed values and bounds as the schema has them
    assert rows["model.reading.pool"].split(" | ")[1:4] == ["str", '`"max"`', '`"max"`, `"mean"`, `"attention"`']
    assert rows["model.max_length"].split(" | ")[1:4] == ["int", "`256`", "≥ 8; ≤ 8192"]
    assert rows["eval.at_least_one"].split(" | ")[3] == '`true`, `false`, `"auto"`'
    assert rows["source.kind"].split(" | ")[2] == "**required**"
    # the model section links each kind's table, once per kind
    assert "[tfidf-linear](#model-tfidf-linear)" in rows["model"]
    assert text.count("### `model` (`model.type: transformer`)") == 1


def test_docs_architecture_picture_has_the_layers():
    """The layer picture names the layers of pyproject's import-linter layer rules, in their order."""
    linter = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(c["layers"] for c in linter["contracts"] if c["type"] == "layers")   # import-linter's key
    expected = [" | ".join(part.strip().removeprefix("trainer.") for part in layer.split("|")) for layer in layers]
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    picture = re.search(r"```\n(.*?)```", page, re.S).group(1)
    assert [line for line in picture.splitlines() if line and not line.startswith(" ")] == expected


def test_docs_readme_links_lead_to_files():
    """The README is outside the site (mkdocs checks docs/ only): its relative links must name files that exist."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)]+)\)", readme) if "://" not in t]
    assert targets and [t for t in targets if t and not (REPO / t).exists()] == []
    assert len(readme.splitlines()) <= 200   # the front door: details go to docs/


def test_docs_site_builds_strict(tmp_path):
    """`mkdocs build --strict` (as `make docs` and CI run it): broken links, pages missing from the nav, bad config."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    mkdocs = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")]
    result = subprocess.run(mkdocs, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "reference" / "configs" / "index.html").is_file()
    # the served site makes no request to a CDN (Material loads Google Fonts unless theme.font is false)
    pages = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "site").rglob("*.html"))
    assert "fonts.googleapis" not in pages and "fonts.gstatic" not in pages
