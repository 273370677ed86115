"""`Predictor` and `trainer predict`: texts, raw article files, JSONL round trip, options."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from trainer.cli import app
from trainer.errors import DataError
from trainer.serving.inputs import detect_kind, read_jsonl_records
from trainer.serving.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(tiny_run_dir):
    return Predictor.load(tiny_run_dir)


def _labels(run_dir):
    from trainer.contracts import read_spec
    return list(read_spec(run_dir / "model").primary.labels)


def test_predict_returns_labels_and_scores_per_text(predictor, tiny_run_dir):
    out = [r["topics"] for r in predictor.predict(["oil prices in Tokyo", "quarterly earnings in Paris"])]
    assert len(out) == 2
    for result in out:
        assert set(result["scores"]) == set(_labels(tiny_run_dir))
        assert set(result["labels"]) <= set(result["scores"])
        assert all(0.0 <= s <= 1.0 for s in result["scores"].values())


def test_predict_answers_in_one_shape_for_one_and_two_targets(predictor, two_target_predictor):
    # per text a dict with a key per target, whatever their number (a one-target model once answered bare)
    one = predictor.predict(["oil prices in Tokyo", "  "])
    two = two_target_predictor.predict(["corn exports from Tokyo", "  "])
    for out, p in ((one, predictor), (two, two_target_predictor)):
        names = [t.name for t in p.targets]
        assert all(list(record) == names for record in out)
        assert all(set(record[name]) == {"labels", "scores"} for record in out for name in names)
        assert out[1] == {name: {"labels": [], "scores": {}} for name in names}
    assert len(one[0]) == 1 and len(two[0]) == 2 and one[0]["topics"]["scores"]


def test_predict_wire_keeps_a_one_target_answer_at_the_top_level(predictor, two_target_predictor):
    # the compatibility path of `trainer predict` and `trainer serve`: their formats did not change
    [one] = predictor.predict(["oil prices in Tokyo"])
    assert predictor.wire({"id": "a", **one}) == {"id": "a", **one["topics"]}
    [two] = two_target_predictor.predict(["corn exports from Tokyo"])
    assert two_target_predictor.wire({"id": "a", **two}) == {"id": "a", **two}


def test_predict_labels_are_those_over_threshold(predictor):
    result = predictor.predict(["wheat harvest and corn exports"], threshold=0.3)[0]["topics"]
    assert result["labels"] == [label for label, s in sorted(result["scores"].items(), key=lambda x: -x[1]) if s >= 0.3]


def test_predict_top_k_limits_labels_and_scores(predictor):
    full = predictor.predict(["oil prices"], threshold=0.0)[0]["topics"]
    top = predictor.predict(["oil prices"], top_k=2, threshold=0.0)[0]["topics"]
    best = sorted(full["scores"], key=full["scores"].get, reverse=True)[:2]
    assert top["labels"] == best and list(top["scores"]) == best


def test_predict_empty_text_gets_no_labels(predictor):
    assert predictor.predict(["   ", "oil prices"])[0] == {"topics": {"labels": [], "scores": {}}}


def test_predict_rejects_bad_options(predictor):
    with pytest.raises(DataError, match="threshold"):
        predictor.predict(["x"], threshold=1.5)
    with pytest.raises(DataError, match="top_k"):
        predictor.predict(["x"], top_k=0)


def test_predict_single_label_gives_the_argmax(tiny_single_label_run_dir):
    p = Predictor.load(tiny_single_label_run_dir)
    result = p.predict(["trade deficit and import tariffs"])[0]["topic"]
    assert result["labels"] == [max(result["scores"], key=result["scores"].get)]


def test_predict_int8_agrees_closely_with_fp32(tiny_run_dir, predictor):
    texts = ["oil prices in Tokyo", "dividend per share", "grain shipments to Berlin"]
    fp32 = [r["topics"] for r in Predictor.load(tiny_run_dir, precision="fp32").predict(texts)]
    int8 = [r["topics"] for r in Predictor.load(tiny_run_dir, quantize="int8").predict(texts)]
    for a, b in zip(fp32, int8):
        assert max(abs(a["scores"][k] - b["scores"][k]) for k in a["scores"]) < 0.05


def test_predict_articles_reads_scraped_page(predictor, scraped_sample_dir, tiny_run_dir):
    page = sorted(scraped_sample_dir.iterdir())[0]
    [record] = predictor.predict_articles([page])
    assert record["path"] == str(page) and record["title"]
    assert set(record["topics"]["labels"]) <= set(_labels(tiny_run_dir))


def test_predict_articles_reads_html(predictor, tmp_path):
    page = tmp_path / "a.html"
    page.write_text("<html><head><title>Oil prices climb</title></head><body><article><h1>Oil prices climb</h1>"
                    + "<p>Crude output fell as OPEC cut supply, traders in Tokyo said on Monday.</p>" * 5
                    + "</article></body></html>")
    assert detect_kind(page) == "html"
    [record] = predictor.predict_articles([page])
    assert "error" not in record and record["topics"]["scores"]


def test_predict_detect_kind_sniffs_markup_without_extension(tmp_path):
    page = tmp_path / "page"
    page.write_text("<!DOCTYPE html><html><body><p>x</p></body></html>")
    assert detect_kind(page) == "html"
    page.write_text("08:25 GMT18 February 2020\nListen Live\nText")
    assert detect_kind(page) == "scraped"


def test_predict_jsonl_records_accept_text_or_title_body():
    ids, texts = read_jsonl_records(['{"text": "a b"}', "", '{"id": "x", "title": "T", "body": "B"}'], "in.jsonl")
    assert ids == ["1", "x"] and texts == ["a b", "T\n\nB"]


def test_predict_jsonl_error_names_the_line():
    with pytest.raises(DataError, match=r"in.jsonl:2: invalid JSON"):
        read_jsonl_records(['{"text": "ok"}', "{not json"], "in.jsonl")


def test_predict_cli_jsonl_round_trip(tiny_run_dir, tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"id": "a", "text": "oil prices"}\n{"id": "b", "title": "Earnings", "body": "net profit rose"}\n')
    result = CliRunner().invoke(app, ["predict", str(tiny_run_dir), "--input", str(src), "--output", str(dst),
                                      "--top-k", "2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert all(len(r["scores"]) == 2 and set(r["labels"]) <= set(r["scores"]) for r in rows)


def test_predict_cli_reads_stdin_jsonl(tiny_run_dir):
    result = CliRunner().invoke(app, ["predict", str(tiny_run_dir), "--input", "-", "--threshold", "0"],
                                input='{"text": "oil prices"}\n')
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert row["id"] == "1" and set(row["labels"]) == set(_labels(tiny_run_dir))


def test_predict_cli_bad_input_is_an_error_not_a_traceback(tiny_run_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("[1, 2]\n")
    result = CliRunner().invoke(app, ["predict", str(tiny_run_dir), "--input", str(src)])
    assert result.exit_code == 1
    assert "in.jsonl:1" in result.output and "Traceback" not in result.output
