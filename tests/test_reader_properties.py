"""Property tests of the reader policy (hypothesis; fixed examples, no database, so the suite stays
fast and repeatable). scripts/fuzz_readers.py does the same through whole builds, for longer."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.data.readers import read_articles
from trainer.data.readers.files import decode_text, line_encoding
from trainer.data.readers.tabular import parse_json_object, row_to_article

FAST = settings(max_examples=100, deadline=None, derandomize=True, database=None)
FILES = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
ENCODINGS = st.sampled_from(["utf-8", "utf-16", "cp1251", "latin-1", "shift_jis"])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
KEYS = st.sampled_from(["text", "title", "id", "section", "tags", "date", "other"])


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@FAST
@given(data=st.binary(max_size=600), encoding=ENCODINGS)
def test_property_decode_text_gives_text_or_a_reason(data, encoding):
    text, reason = decode_text(data, encoding)
    assert (text is None) != (reason is None)
    assert reason or (_is_text(text) and text.strip())


@FAST
@given(text=st.text(max_size=300), encoding=st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-32"]))
def test_property_text_with_a_bom_round_trips(text, encoding):
    import codecs
    bom = {"utf-16-le": codecs.BOM_UTF16_LE}.get(encoding, b"")
    try:
        data = bom + text.encode(encoding)
    except UnicodeEncodeError:   # lone surrogates: not text
        return
    decoded, reason = decode_text(data)
    if reason is None:
        assert decoded == text.lstrip("\ufeff")
    else:
        assert reason in ("empty file", "binary content (NUL bytes)") or reason.startswith("binary content")


@FAST
@given(head=st.binary(max_size=600), complete=st.booleans(), encoding=ENCODINGS)
def test_property_line_encoding_gives_a_codec_or_a_reason(head, complete, encoding):
    codec, reason = line_encoding(head, encoding, complete)
    assert (codec is None) != (reason is None)


@FAST
@given(line=st.text(max_size=200) | JSON.map(json.dumps))
def test_property_json_lines_parse_or_are_rejected(line):
    row, reason = parse_json_object(line)
    assert (row is None) != (reason is None)


@FAST
@given(row=st.dictionaries(KEYS, JSON, max_size=7))
def test_property_any_json_object_becomes_an_article_or_a_reject(tmp_path_factory, row):
    source = SourceConfig(kind="jsonl", columns={"id": "id", "title": "title", "section": "section",
                                                 "tags": "tags", "published": "date"})
    record = row_to_article(row, tmp_path_factory.getbasetemp() / "x.jsonl", 1, source)
    if isinstance(record, Rejected):
        assert record.reason
    else:
        fields = [record.id, record.title, record.body, record.section or "", *record.tags]
        assert all(isinstance(f, str) and _is_text(f) for f in fields) and record.body.strip()


@FILES
@given(values=st.lists(JSON, max_size=8), raw=st.lists(st.binary(max_size=40), max_size=3))
def test_property_jsonl_file_accounts_for_every_line(tmp_path_factory, values, raw):
    folder = tmp_path_factory.mktemp("jsonl")
    lines = [json.dumps({"text": "anchor line"}).encode()] + [json.dumps(v).encode() for v in values]
    lines += [r.replace(b"\n", b" ") for r in raw]
    (folder / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    records = list(read_articles(SourceConfig(kind="jsonl", path=str(folder))))
    non_blank = [line for line in lines if line.strip()]
    assert all(isinstance(r, (Article, Rejected)) for r in records)
    # one record per non-blank line, or a single reject for a file that is not text at all
    assert len(records) == len(non_blank) or (len(records) == 1 and isinstance(records[0], Rejected))
