"""`trainer predict` over a crawl: rows written as they are scored, --output resumable after kill -9, --engine ray."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainer.cli import app
from trainer.serving.stream import Settings, unit_items, units
from trainer.workflows.predict_output import ResumableOutput, _keep_whole_lines

TRAINER = [sys.executable, "-m", "trainer.cli"]


@pytest.fixture(scope="module")
def tfidf_run(tiny_dataset_dir, tmp_path_factory):
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(tmp_path_factory.mktemp("runs")), "name": "lin"}}
    return train(load_config(None, RunConfig, tree=tree))


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """10,000 synthetic scraped pages (one outlet's layout), as `trainer predict` gets a crawl."""
    from trainer.data.synthetic import write_pages
    folder = tmp_path_factory.mktemp("crawl") / "pages"
    write_pages(folder, 10_000, keep=False)
    return folder


def _jsonl(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"d{k}", "text": f"oil prices {k} rose as crude output fell"
                                        if k % 3 else f"net profit {k} and the dividend rose"}) + "\n"
                            for k in range(n)) + "\n", encoding="utf-8")
    return path


# ---- units and the partial file (no model)

def test_range_units_read_the_same_lines_as_line_units(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a"}\n\n{"id": "x", "title": "Tête", "body": "b"}\n{"text": "c"}\n{"text": "d"}',
                   encoding="utf-8")
    settings = Settings(batch_size=2)

    def items(ranges):
        found = [unit_items(u, None, settings) for u in units(jsonl=str(src), size=2, jsonl_ranges=ranges)]
        return [[(record["id"], text) for record, text, _ in unit] for unit in found]

    assert items(True) == items(False) == [[("1", "a")], [("x", "Tête\n\nb"), ("4", "c")], [("5", "d")]]


def test_keep_whole_lines_cuts_a_half_written_row(tmp_path):
    partial = tmp_path / "out.jsonl.partial"
    partial.write_bytes(b'{"id": 1}\n{"id": 2}\n{"id": 3, "lab')
    assert _keep_whole_lines(partial) == 2
    assert partial.read_bytes() == b'{"id": 1}\n{"id": 2}\n'
    partial.write_bytes(b'{"half')
    assert _keep_whole_lines(partial) == 0 and partial.read_bytes() == b""


# ---- the command

@pytest.mark.integration   # trains a TF-IDF run
def test_predict_writes_rows_before_the_input_ends(tfidf_run):
    """stdin sends one batch and waits: its rows come out while the input is still open."""
    proc = subprocess.Popen([*TRAINER, "predict", str(tfidf_run), "--input", "-", "--batch-size", "2"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write('{"id": "a", "text": "oil prices"}\n{"id": "b", "text": "net profit"}\n')
        proc.stdin.flush()
        got = []
        reader = threading.Thread(target=lambda: got.extend([proc.stdout.readline(), proc.stdout.readline()]))
        reader.start()
        reader.join(timeout=120)
        assert not reader.is_alive(), "no rows while stdin stays open"
        assert [json.loads(line)["id"] for line in got] == ["a", "b"]
        proc.stdin.write('{"id": "c", "text": "crude"}\n')
        proc.stdin.close()
        assert [json.loads(line)["id"] for line in proc.stdout.read().splitlines()] == ["c"]
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow   # three runs over 10,000 pages: ~45 s on the 2-core machine
@pytest.mark.integration
def test_kill_9_then_rerun_gives_the_uninterrupted_output(tfidf_run, pages, tmp_path):
    whole = tmp_path / "whole.jsonl"
    args = ["predict", str(tfidf_run), str(pages), "--batch-size", "16", "--top-k", "3"]
    done = subprocess.run([*TRAINER, *args, "--output", str(whole)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    expected = whole.read_bytes()
    assert expected.count(b"\n") == 10_000

    out = tmp_path / "out.jsonl"
    partial = out.with_name("out.jsonl.partial")
    proc = subprocess.Popen([*TRAINER, *args, "--output", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if partial.exists() and partial.stat().st_size > len(expected) // 3:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists() and partial.exists(), "killed before the end: only the partial file"
    data = partial.read_bytes()
    written = data.count(b"\n")
    if data.endswith(b"\n"):   # as if the kill had come in the middle of a row
        with open(partial, "ab") as fh:
            fh.write(b'{"id": "000123_half", "labe')
    assert 0 < written < 10_000

    rerun = subprocess.run([*TRAINER, *args, "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"continuing {out}: {written} rows already written" in rerun.stderr
    assert out.read_bytes() == expected   # byte for byte: no row missing, none twice
    assert not partial.exists() and not out.with_name("out.jsonl.partial.json").exists()


@pytest.mark.integration
def test_a_partial_output_of_another_run_is_refused(tfidf_run, tmp_path):
    src, out = _jsonl(tmp_path / "in.jsonl", 40), tmp_path / "out.jsonl"
    args = ["predict", str(tfidf_run), "--input", str(src), "--output", str(out), "--batch-size", "8"]
    # a run stopped after its first rows
    from trainer.workflows.predict_output import fingerprint
    first = ResumableOutput(out, fingerprint(tfidf_run, [], str(src), [], [],
                                             {"kind": None, "outlet": None, "top_k": None, "threshold": None,
                                              "batch_size": 8, "quantize": "none", "runtime": "torch"}))
    first.open()
    first.write(['{"id": "d0"}\n'])
    first.close()
    result = CliRunner().invoke(app, [*args, "--top-k", "2"])
    assert result.exit_code == 1
    assert "out.jsonl.partial was started by another run (different options)" in result.output
    assert "--restart to start over" in result.output and "Traceback" not in result.output

    result = CliRunner().invoke(app, args)   # the same run continues it
    assert result.exit_code == 0, result.output
    assert "continuing" in result.output and [json.loads(r)["id"] for r in out.read_text().splitlines()] == [
        f"d{k}" for k in range(40)]   # its first row kept as the stopped run wrote it
    assert out.read_text().splitlines()[0] == '{"id": "d0"}'

    os.remove(out)
    first = ResumableOutput(out, {"model": "another"})
    first.open()
    first.close()
    result = CliRunner().invoke(app, [*args, "--top-k", "2", "--restart"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(r) for r in out.read_text().splitlines()]
    assert len(rows) == 40 and all(len(r["scores"]) == 2 for r in rows)


@pytest.mark.integration
def test_an_existing_output_is_kept_unless_overwrite(tfidf_run, tmp_path):
    src, out = _jsonl(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    out.write_text("mine\n")
    args = ["predict", str(tfidf_run), "--input", str(src), "--output", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "exists; give --overwrite to replace it" in result.output
    assert out.read_text() == "mine\n"
    (tmp_path / "out.jsonl.partial").write_text("also mine\n")   # not written by trainer predict: no fingerprint
    result = CliRunner().invoke(app, [*args, "--overwrite"])
    assert result.exit_code == 1 and "did not write it" in result.output
    os.remove(tmp_path / "out.jsonl.partial")
    result = CliRunner().invoke(app, [*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert [json.loads(r)["id"] for r in out.read_text().splitlines()] == [f"d{k}" for k in range(5)]


@pytest.mark.integration   # starts Ray once
def test_engine_ray_gives_the_local_rows(tfidf_run, pages, tmp_path, monkeypatch):
    from trainer.serving import predict_ray
    monkeypatch.setattr(predict_ray, "TEXTS_PER_TASK", 16)   # 2 units a group: ~19 groups on 2 actors, in order
    few = tmp_path / "few"
    few.mkdir()
    for path in sorted(pages.iterdir())[:150]:
        (few / path.name).write_bytes(path.read_bytes())
    (few / ".hidden.txt").write_text("not read")
    src = _jsonl(tmp_path / "in.jsonl", 150)
    rows = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        result = CliRunner().invoke(app, ["predict", str(tfidf_run), str(few), "--input", str(src), "--output",
                                          str(out), "--batch-size", "8", "--engine", engine])
        assert result.exit_code == 0, result.output
        rows[engine] = out.read_bytes()
    assert rows["ray"] == rows["local"]
    lines = rows["local"].decode().splitlines()
    assert len(lines) == 301 and json.loads(lines[-1])["error"].startswith("hidden file")
