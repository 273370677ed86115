"""docs/own-pages.md, run: every command of the walkthrough, in order, on the generated two-outlet corpus.

The commands are read from the page's ```bash blocks and its data config from the ```yaml block, so the
page cannot drift from what works. Stand-ins, where a command cannot run as such in a test: the corpus
generator is called in-process, `trainer serve` becomes the same app under a test client (the `curl`
line is sent to it), and the MiniLM training gets tiny-model overrides appended (seconds, not minutes).
"""
from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration   # trains models and serves

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "own-pages.md"
TINY_MINILM = ["model.init=random", "model.max_length=64", "train.max_steps=6", "train.batch_size=8",
               "train.precision=fp32", "train.eval_every=3", "train.logging_steps=3",
               "model.config_overrides={num_hidden_layers: 2, hidden_size: 32, num_attention_heads: 2, "
               "intermediate_size: 64}"]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def commands() -> list[str]:
    out = []
    for block in blocks("bash"):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def test_the_walkthrough_lists_the_steps_from_pages_to_a_served_model():
    heads = [c.split()[:3] for c in commands()]
    assert [" ".join(h[:2]) for h in heads if h[0] == "trainer"] == [
        "trainer data", "trainer data", "trainer train", "trainer train", "trainer evaluate", "trainer compare",
        "trainer predict", "trainer serve"]
    assert any(c.startswith("curl ") and "/predict-file" in c for c in commands())
    assert "(docs/own-pages.md)" in (REPO / "README.md").read_text(encoding="utf-8")   # linked from README


def test_every_command_of_the_walkthrough_runs(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from outlet_corpus import write_corpus
    from trainer.cli import app
    from trainer.serving.http import create_app
    from trainer.serving.predictor import Predictor

    shutil.copytree(REPO / "configs", tmp_path / "configs")    # relative paths resolve from the copy's folder
    monkeypatch.chdir(tmp_path)
    (data_yaml,) = blocks("yaml")
    name = data_yaml.splitlines()[0].lstrip("# ").strip()
    Path(name).write_text(data_yaml, encoding="utf-8")
    runner, client, answers = CliRunner(), None, {}
    for line in commands():
        words = shlex.split(line)
        if words[:2] == ["python", "tests/outlet_corpus.py"]:
            write_corpus(words[2])
            continue
        if words[0] == "cp":
            (src,) = glob.glob(words[1])
            shutil.copyfile(src, words[2])
            continue
        if words[0] == "curl":
            url = next(w for w in words if w.startswith("http"))
            body = Path(next(w for w in words if w.startswith("@"))[1:]).read_bytes()
            path, _, query = url.removeprefix("http://127.0.0.1:8000").partition("?")
            params = dict(p.split("=", 1) for p in query.split("&"))
            response = client.post(path, params=params, content=body)
            assert response.status_code == 200, response.text
            answers["curl"] = response.json()
            continue
        assert words[0] == "trainer", line
        args = [a for w in words[1:] for a in (sorted(glob.glob(w)) or [w])]
        if args[0] == "serve":
            client = TestClient(create_app(Predictor.load(args[1])))   # what `trainer serve RUN` serves
            continue
        if args[0] == "train" and "minilm" in args[1]:
            args += TINY_MINILM
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        answers[args[0]] = result.stdout
    # what the walkthrough promises
    manifest = json.loads(Path("data/processed/my-outlets/manifest.json").read_text(encoding="utf-8"))
    # the empty page, the widgets-only page and the .html page that **/*.txt leaves out
    assert manifest["accounting"]["balanced"] and manifest["accounting"]["rejected"] == 3
    assert set(manifest["labels"]["topic"]) == {"World", "Business", "Science & Tech"}   # sections merged
    for run in ("my-tfidf", "my-minilm"):
        assert (Path("runs") / run / "model" / "cleaning.json").is_file()
    (predicted,) = [json.loads(x) for x in answers["predict"].splitlines() if x.startswith("{")]
    dropped = answers["curl"]
    assert predicted["cleaning"] == dropped["articles"][0]["cleaning"] == "outlet:planet"
    assert predicted["labels"] == dropped["predictions"][0]["labels"]
    assert "Share on Telegram" not in dropped["articles"][0]["text"]
    assert os.path.isfile("runs/my-tfidf/predictions.jsonl")
