"""JSONL and CSV readers: column mapping, lists, per-line rejects, fatal missing body column."""
from __future__ import annotations

import csv
import json

import pytest

from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.data.readers import read_articles
from trainer.errors import DataError

COLUMNS = {"id": "doc_id", "title": "headline", "body": "content", "published": "date",
           "section": "category", "tags": "keywords", "places": "countries", "list_separator": ";"}


def _read(path, kind: str, **kw) -> list:
    return list(read_articles(SourceConfig(kind=kind, path=str(path), **kw)))


def _jsonl(path, rows) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


def _csv(path, header, rows, encoding="utf-8") -> None:
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def test_jsonl_maps_columns_and_json_lists(tmp_path):
    _jsonl(tmp_path / "a.jsonl", [{"doc_id": "x1", "headline": "Oil up", "content": "Crude rose 3%.", "date": "1987-03-02",
                                  "category": "Markets", "keywords": ["oil", "opec"], "countries": ["sa", "us"]}])
    [art] = _read(tmp_path / "a.jsonl", "jsonl", columns=COLUMNS)
    assert (art.id, art.title, art.body, art.published, art.section) == ("x1", "Oil up", "Crude rose 3%.", "1987-03-02", "Markets")
    assert (art.tags, art.places) == (["oil", "opec"], ["sa", "us"])
    assert art.path == f"{tmp_path / 'a.jsonl'}:1"


def test_jsonl_default_ids_are_stem_and_line(tmp_path):
    _jsonl(tmp_path / "news.jsonl", [{"text": "one"}, "", {"text": "two"}])
    assert [a.id for a in _read(tmp_path, "jsonl")] == ["news-1", "news-3"]


def test_jsonl_invalid_line_is_rejected_and_reading_goes_on(tmp_path):
    _jsonl(tmp_path / "a.jsonl", [{"text": "good"}, '{"text": "broken', {"text": "also good"}])
    records = _read(tmp_path, "jsonl")
    assert [type(r) for r in records] == [Article, Rejected, Article]
    assert records[1].input.endswith("a.jsonl:2") and records[1].reason.startswith("invalid JSON")


def test_jsonl_missing_or_empty_body_value_rejects_the_row(tmp_path):
    _jsonl(tmp_path / "a.jsonl", [{"text": "fine"}, {"title": "no body"}, {"text": "   "}])
    records = _read(tmp_path, "jsonl")
    assert [r.reason for r in records[1:]] == ["missing value for body column 'text'", "empty body (column 'text')"]


def test_jsonl_body_key_absent_from_file_is_fatal(tmp_path):
    _jsonl(tmp_path / "a.jsonl", [{"headline": "h", "content": "c"}])
    with pytest.raises(DataError, match=r"a\.jsonl.*'text'.*content, headline.*source\.columns\.body"):
        _read(tmp_path, "jsonl")


def test_jsonl_undecodable_line_of_a_utf8_file_is_rejected(tmp_path):
    (tmp_path / "a.jsonl").write_bytes('{"text": "déjà vu"}\n'.encode() + b'{"text": "caf\xe9"}\n')
    records = _read(tmp_path, "jsonl")
    assert records[0].body == "déjà vu" and "undecodable" in records[1].reason


def test_jsonl_file_in_another_encoding_is_detected(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    assert [r.body for r in _read(tmp_path, "jsonl")] == ["ok", "café"]


def test_csv_maps_columns_and_splits_lists(tmp_path):
    _csv(tmp_path / "a.csv", ["doc_id", "headline", "content", "date", "category", "keywords", "countries"],
         [["7", "Wheat", "Grain\nexports fell.", "2020-02-18T08:25:00", "Agri", "wheat; grain", "usa;canada"]])
    [art] = _read(tmp_path / "a.csv", "csv", columns=COLUMNS)
    assert (art.id, art.body, art.published, art.section) == ("7", "Grain\nexports fell.", "2020-02-18T08:25:00", "Agri")
    assert (art.tags, art.places) == (["wheat", "grain"], ["usa", "canada"])


def test_csv_line_numbers_follow_multiline_rows(tmp_path):
    _csv(tmp_path / "a.csv", ["title", "text"], [["a", "two\nlines"], ["b", "one"]])
    assert [a.id for a in _read(tmp_path, "csv")] == ["a-2", "a-4"]


def test_csv_missing_body_column_is_fatal_with_the_fix(tmp_path):
    _csv(tmp_path / "a.csv", ["title", "content"], [["t", "c"]])
    with pytest.raises(DataError, match=r"a\.csv.*'text'.*title, content.*source\.columns\.body"):
        _read(tmp_path, "csv")


def test_csv_named_column_absent_is_fatal(tmp_path):
    _csv(tmp_path / "a.csv", ["title", "text"], [["t", "c"]])
    with pytest.raises(DataError, match=r"source\.columns\.tags"):
        _read(tmp_path, "csv", columns={"tags": "keywords"})


def test_csv_missing_value_rejects_only_that_row(tmp_path):
    (tmp_path / "a.csv").write_text("title,text\nshort\nfull,body here\n", encoding="utf-8")
    records = _read(tmp_path, "csv")
    assert isinstance(records[0], Rejected) and records[0].input.endswith("a.csv:2")
    assert isinstance(records[1], Article) and records[1].body == "body here"


def test_csv_in_another_encoding_is_detected(tmp_path):
    _csv(tmp_path / "a.csv", ["text"], [["café"]], encoding="cp1252")
    assert _read(tmp_path, "csv")[0].body == "café"
    assert _read(tmp_path, "csv", encoding="cp1252")[0].body == "café"


def test_csv_utf8_byte_order_mark_is_ignored(tmp_path):
    _csv(tmp_path / "a.csv", ["text"], [["body"]], encoding="utf-8-sig")
    assert _read(tmp_path, "csv")[0].body == "body"


def test_csv_empty_file_is_rejected(tmp_path):
    (tmp_path / "a.csv").write_text("")
    assert _read(tmp_path, "csv") == [Rejected(str(tmp_path / "a.csv"), "empty file")]


def test_tabular_limit_counts_rows_across_files(tmp_path):
    for name in ("a", "b"):
        _jsonl(tmp_path / f"{name}.jsonl", [{"text": f"{name}{k}"} for k in range(3)])
    assert [a.body for a in _read(tmp_path, "jsonl", limit=4)] == ["a0", "a1", "a2", "b0"]


def test_tabular_unparseable_date_kept_in_meta(tmp_path):
    _jsonl(tmp_path / "a.jsonl", [{"text": "t", "when": "last Tuesday"}, {"text": "u", "when": "18 February 2020"}])
    first, second = _read(tmp_path, "jsonl", columns={"published": "when"})
    assert first.published is None and first.meta["published_raw"] == "last Tuesday"
    assert second.published == "2020-02-18"
