"""Where `trainer data build` may write: never over foreign files, never over or around its input."""
from __future__ import annotations

import json
import random

import pytest
import yaml
from typer.testing import CliRunner

from trainer.cli import app
from trainer.data.build import build_dataset
from trainer.data.config import DataConfig
from trainer.errors import DataError

WORDS = "oil wheat bank rates profit shares tonnes yen exports talks quarter deficit".split()


def _rows(n: int = 40) -> list[dict]:
    rng = random.Random(0)
    return [{"id": f"r{i}", "text": " ".join(f"{rng.choice(WORDS)}{rng.randint(0, 99)}" for _ in range(40)),
             "topics": [["earn"], ["acq"]][i % 2]} for i in range(n)]


def _input(folder, rows=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows or _rows()), encoding="utf-8")
    return folder


def _cfg(source_path, output) -> DataConfig:
    return DataConfig.model_validate({
        "source": {"kind": "jsonl", "path": str(source_path), "columns": {"topics": "topics"}},
        "labels": {"region": None}, "output": str(output)})


def _snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def no_reading(monkeypatch):
    """Any attempt to list or read the input fails the test: the refusal must come first."""
    import trainer.data.readers as readers

    def forbidden(*args, **kwargs):
        raise AssertionError("the input was read before the output was checked")
    monkeypatch.setattr(readers, "input_files", forbidden)
    monkeypatch.setattr(readers, "read_articles", forbidden)


def test_build_refuses_a_non_empty_folder_that_is_no_dataset(tmp_path):
    source = _input(tmp_path / "raw")
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    with pytest.raises(DataError, match=r"^output: .*thesis.* not a dataset.*Set output to a new or empty folder"):
        build_dataset(_cfg(source, precious))
    assert _snapshot(precious) == {"chapter1.tex": b"years of work"}


def test_build_refuses_a_file_as_output(tmp_path):
    source = _input(tmp_path / "raw")
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(DataError, match=r"^output: .*notes\.txt.* a file"):
        build_dataset(_cfg(source, tmp_path / "notes.txt"))
    assert (tmp_path / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("output", ["raw", "raw/sub/ds", "."], ids=["equal", "inside", "containing"])
def test_build_refuses_an_output_overlapping_the_input_before_reading(tmp_path, no_reading, output):
    source = _input(tmp_path / "raw")
    before = _snapshot(tmp_path)
    with pytest.raises(DataError, match=r"^output: .* source\.path .*set output to a folder outside"):
        build_dataset(_cfg(source, tmp_path / output))
    assert _snapshot(tmp_path) == before


def test_build_overlap_is_found_through_symlinks_and_dots(tmp_path, no_reading):
    source = _input(tmp_path / "raw")
    (tmp_path / "link").symlink_to(source)
    with pytest.raises(DataError, match="source.path"):
        build_dataset(_cfg(tmp_path / "link", tmp_path / "x" / ".." / "raw"))


def test_build_replaces_its_own_dataset_and_fills_an_empty_folder(tmp_path):
    from trainer.data.dataset_io import load_dataset_dir
    out = tmp_path / "empty"
    out.mkdir()
    build_dataset(_cfg(_input(tmp_path / "raw"), out))
    dsd, manifest = load_dataset_dir(out)
    assert manifest["accounting"]["read"] == 40 and sum(len(s) for s in dsd.values()) == manifest["accounting"]["kept"]
    # a dataset of ours is replaced by a build of other input: the second input's rows, nothing of the first
    build_dataset(_cfg(_input(tmp_path / "raw2", [dict(r, text="second " + r["text"]) for r in _rows(60)]), out))
    dsd, manifest = load_dataset_dir(out)
    assert manifest["format"] == "trainer-dataset/1" and manifest["accounting"]["read"] == 60
    texts = [t for split in dsd.values() for t in split["text"]]
    assert len(texts) == manifest["accounting"]["kept"] > 40 and all(t.startswith("second ") for t in texts)


def test_build_cli_refuses_source_path_as_output_and_keeps_it(tmp_path):
    """The reported case: `source.path=X output=X` emptied X and exited 0."""
    source = _input(tmp_path / "raw")
    config = tmp_path / "data.yaml"
    config.write_text(yaml.safe_dump({"source": {"kind": "jsonl", "columns": {"topics": "topics"}},
                                      "labels": {"region": None}}))
    before = _snapshot(source)
    result = CliRunner().invoke(app, ["data", "build", str(config), f"source.path={source}", f"output={source}"])
    assert result.exit_code == 1
    assert "output:" in result.output and "source.path" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _snapshot(source) == before
