"""`trainer predict RUN FOLDER`: a folder of articles is read as the dataset build reads source.path."""
from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from trainer.cli import app
from trainer.errors import TrainerError
from trainer.workflows.predict_inputs import expand_files

PAGE = ("08:25 GMT 18 February 2020\nListen Live\nOil prices climb as OPEC cuts output\n"
        + "Crude output fell as OPEC cut supply, traders in Tokyo said on Monday. " * 6 + "\n")
HTML = ("<html><head><title>Net profit rose</title></head><body><article><h1>Net profit rose</h1>"
        + "<p>The company said net profit and the dividend per share rose in Paris.</p>" * 5 + "</article></body></html>")


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "pages"
    (root / "outlet-b").mkdir(parents=True)
    (root / "a.txt").write_text(PAGE)
    (root / "outlet-b" / "b.html").write_text(HTML)
    (root / ".hidden.txt").write_text(PAGE)
    os.symlink(root / "nowhere", root / "broken.txt")
    return root


@pytest.fixture(scope="module")
def linear_run(tiny_dataset_dir, tmp_path_factory):
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(tmp_path_factory.mktemp("runs")), "name": "lin"}}
    return train(load_config(None, RunConfig, tree=tree))


def test_expand_files_lists_a_folder_recursively_and_accounts_for_every_entry(folder):
    files, not_read = expand_files([str(folder), "-"])
    assert files == [str(folder / "a.txt"), str(folder / "outlet-b" / "b.html"), "-"]
    assert {r["path"]: r["error"] for r in not_read} == {
        str(folder / ".hidden.txt"): "hidden file or folder (name starts with a dot)",
        str(folder / "broken.txt"): "broken symbolic link"}   # a subfolder is no input: its files are


def test_expand_files_missing_path_names_files_and_folders(tmp_path):
    with pytest.raises(TrainerError, match="no such file or folder; give article files or folders"):
        expand_files([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainerError, match="empty: a folder with no files to read"):
        expand_files([str(tmp_path / "empty")])


@pytest.mark.integration   # trains a TF-IDF run
def test_predict_cli_reads_a_folder(linear_run, folder):
    result = CliRunner().invoke(app, ["predict", str(linear_run), str(folder), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    read = [r for r in rows if "error" not in r]
    assert [r["path"] for r in read] == [str(folder / "a.txt"), str(folder / "outlet-b" / "b.html")]
    assert read[1]["title"] == "Net profit rose" and all("scores" in r for r in read)
    assert len(rows) == 4   # two read, two entries accounted for as not read
