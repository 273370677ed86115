"""The reader policy (docs/contracts.md, "Reader policy"), the same for every reader: what is listed,
unreadable files, encodings, binary content, field types, deep JSON, duplicate ids."""
from __future__ import annotations

import codecs
import csv
import errno
import io
import json
import os
import threading
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from trainer.cli import app
from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.data.readers import read_articles
from trainer.data.readers.files import BROKEN_LINK, FOLDER, HIDDEN, OUTSIDE, UNMATCHED

KINDS = ["scraped", "html", "jsonl", "csv"]
RUSSIAN = ("Министр обороны России Сергей Шойгу заявил, что Москва заинтересована в способности союзников "
           "противостоять угрозам из Афганистана, сообщает агентство «ТАСС».")
FRENCH = "Le café était fermé à cause de la grève, a déclaré le porte-parole du ministère à Paris hier soir."
ENGLISH = "Two cargo ships collided off the coast of Crete on Thursday morning, the Greek coast guard said."


def render(kind: str, text: str) -> str:
    """One document holding `text` in the layout of `kind`."""
    if kind == "scraped":
        return f"{text}\n\nOfficials said an inquiry had been opened into what happened that day.\n"
    if kind == "html":
        return (f"<html><head><title>News</title></head><body><article><p>{text}</p>"
                "<p>Officials said an inquiry had been opened into what happened that day.</p></article></body></html>")
    if kind == "jsonl":
        return json.dumps({"text": text}, ensure_ascii=False) + "\n"
    buf = io.StringIO()
    csv.writer(buf).writerows([["text"], [text]])
    return buf.getvalue()


def write(folder: Path, kind: str, text: str, name: str = "doc", encoding: str = "utf-8", bom: bytes = b"") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{ {'scraped': 'txt'}.get(kind, kind) }"
    path.write_bytes(bom + render(kind, text).encode(encoding))
    return path


def read(path, kind: str, **kw) -> list:
    return list(read_articles(SourceConfig(kind=kind, path=str(path), **kw)))


def articles(records) -> list[Article]:
    return [r for r in records if isinstance(r, Article)]


def reasons(records) -> dict[str, str]:
    return {Path(r.input).name: r.reason for r in records if isinstance(r, Rejected)}


# ---- what is listed ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_policy_folders_and_dot_entries_are_counted_as_rejects(tmp_path, kind):
    write(tmp_path, kind, ENGLISH)
    write(tmp_path / "outlet", kind, ENGLISH + " Again.", name="inner")
    (tmp_path / ".notes.txt").write_text("private")
    write(tmp_path / ".git", kind, ENGLISH, name="object")       # a hidden folder: one reject, contents unread
    records = read(tmp_path, kind)
    assert len(articles(records)) == 2
    assert reasons(records) == {"outlet": FOLDER, ".notes.txt": HIDDEN, ".git": HIDDEN}


def test_policy_files_the_pattern_leaves_out_are_rejected_not_skipped(tmp_path):
    write(tmp_path / "outlet-a", "scraped", ENGLISH)
    write(tmp_path / "outlet-b", "scraped", ENGLISH + " Again.", name="other")
    (tmp_path / "outlet-b" / "page.html").write_text("<html><body><p>An article saved as HTML.</p></body></html>")
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")      # hidden and not matched: not an input anyone put there
    records = read(tmp_path, "scraped", pattern="**/*.txt")
    assert len(articles(records)) == 2
    assert reasons(records) == {"page.html": f"{UNMATCHED} '**/*.txt' (widen source.pattern to read it; an .html "
                                             "page is read by source.kind html)"}


@pytest.mark.parametrize("kind", KINDS)
def test_policy_fifo_is_rejected_and_never_opened(tmp_path, kind):
    write(tmp_path, kind, ENGLISH)
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)

    def unblock():   # a reader blocked in open() gets an empty file instead of hanging the suite
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    timer = threading.Timer(20, unblock)
    timer.start()
    try:
        records = read(tmp_path, kind)
    finally:
        timer.cancel()
    assert reasons(records) == {"pipe.txt": "not a regular file (FIFO)"}
    assert len(articles(records)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_policy_symlinks_inside_are_read_outside_or_broken_rejected(tmp_path, kind):
    src, elsewhere = tmp_path / "src", tmp_path / "elsewhere"
    own = write(src, kind, ENGLISH)
    secret = write(elsewhere, kind, "The secret memo says the merger will be announced on Friday morning.")
    (src / f"inside.{own.suffix[1:]}").symlink_to(own)
    (src / f"outside.{own.suffix[1:]}").symlink_to(secret)
    (src / f"broken.{own.suffix[1:]}").symlink_to(src / "gone")
    (src / f"loop.{own.suffix[1:]}").symlink_to(src / f"loop.{own.suffix[1:]}")
    records = read(src, kind)
    assert not any("secret" in a.body for a in articles(records))
    assert len(articles(records)) == 2                           # doc, and the link to it inside source.path
    assert reasons(records) == {f"outside{own.suffix}": OUTSIDE, f"broken{own.suffix}": BROKEN_LINK,
                                f"loop{own.suffix}": "unreadable file (ELOOP: Too many levels of symbolic links)"}


def test_policy_files_in_a_linked_folder_outside_are_rejected(tmp_path):
    write(tmp_path / "src" / "own", "scraped", ENGLISH)
    write(tmp_path / "elsewhere", "scraped", "The secret memo says the merger will be announced on Friday.")
    (tmp_path / "src" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    records = read(tmp_path / "src", "scraped", pattern="*/*.txt")
    assert [Path(r.input).parent.name for r in records if isinstance(r, Rejected)] == ["linked"]
    assert [r.reason for r in records if isinstance(r, Rejected)] == [OUTSIDE]
    assert len(articles(records)) == 1


# ---- unreadable files ----------------------------------------------------------------------------
@pytest.fixture
def eio(monkeypatch):
    """fail(path): reading `path` raises EIO, whichever way a reader opens it."""
    failing: set[Path] = set()
    real_read_bytes, real_open = Path.read_bytes, Path.open

    def check(path):
        if Path(path) in failing:
            raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(Path, "read_bytes", lambda self: (check(self), real_read_bytes(self))[1])
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: (check(self), real_open(self, *a, **k))[1])
    return failing.add


@pytest.mark.parametrize("kind", KINDS)
def test_policy_unreadable_file_is_rejected_and_reading_goes_on(tmp_path, kind, eio):
    write(tmp_path, kind, ENGLISH, name="a")
    eio(write(tmp_path, kind, ENGLISH + " More.", name="b"))
    write(tmp_path, kind, ENGLISH + " Most.", name="c")
    records = read(tmp_path, kind)
    assert len(articles(records)) == 2
    assert list(reasons(records).values()) == ["unreadable file (EIO: Input/output error)"]


def test_policy_unreadable_reuters_sgm_is_rejected(tmp_path, eio):
    from test_reader_reuters import NORM_DOC, _sgml
    (tmp_path / "reut2-000.sgm").write_bytes(_sgml(NORM_DOC))
    (tmp_path / "reut2-001.sgm").write_bytes(_sgml(NORM_DOC.replace('NEWID="1"', 'NEWID="2"')))
    eio(tmp_path / "reut2-001.sgm")
    records = read(tmp_path, "reuters")
    assert [type(r) for r in records] == [Article, Rejected]
    assert records[1].reason == "unreadable file (EIO: Input/output error)"


def test_policy_build_with_an_unreadable_file_describes_and_rejects_it(tmp_path, eio, monkeypatch):
    import builtins

    from trainer.config import load_config
    from trainer.data.build import build_dataset
    from trainer.data.config import DataConfig
    rows = [{"text": f"{ENGLISH} Number {i} of many, with words {i * 7} and {i * 13}.", "topics": ["x", "y"][i % 2]}
            for i in range(30)]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "good.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    bad = write(tmp_path / "src", "jsonl", ENGLISH, name="bad")
    eio(bad)
    real_open = builtins.open

    def failing_open(file, *args, **kwargs):   # the manifest's checksum opens the file this way
        if isinstance(file, (str, os.PathLike)) and Path(file) == bad:
            raise OSError(errno.EIO, "Input/output error", str(file))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", failing_open)
    cfg = load_config(None, DataConfig, tree={
        "source": {"kind": "jsonl", "path": str(tmp_path / "src"), "columns": {"topics": "topics"}},
        "labels": {"region": None}, "output": str(tmp_path / "ds")})
    manifest = build_dataset(cfg).manifest
    assert manifest["rejected"] == {"unreadable file (EIO: Input/output error)": 1}
    described = {Path(i["path"]).name: i for i in manifest["inputs"]}
    assert described["bad.jsonl"]["error"] == "unreadable file (EIO: Input/output error)"
    assert described["good.jsonl"]["sha256"]
    assert manifest["accounting"]["balanced"]


def test_policy_cli_real_io_error_is_one_line_without_traceback(tmp_path):
    """A real EIO: /proc/self/mem is a regular file whose first page cannot be read."""
    if not Path("/proc/self/mem").is_file():
        pytest.skip("needs Linux /proc")
    config = tmp_path / "data.yaml"
    config.write_text(yaml.safe_dump({"source": {"kind": "scraped"}, "labels": {"region": None}}))
    result = CliRunner().invoke(app, ["data", "build", str(config), "source.path=/proc/self/mem",
                                      f"output={tmp_path / 'ds'}"])
    assert result.exit_code == 1 and isinstance(result.exception, (SystemExit, type(None)))
    assert "unreadable file (EIO: Input/output error)" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.output and len(errors) == 1   # the other lines: the build's stage progress


# ---- encodings and binary content ----------------------------------------------------------------
ENCODED = {
    "utf-16-le BOM": ("utf-16-le", codecs.BOM_UTF16_LE, RUSSIAN, {}),
    "utf-16-be BOM": ("utf-16-be", codecs.BOM_UTF16_BE, FRENCH, {}),
    "utf-16 configured": ("utf-16", b"", RUSSIAN, {"encoding": "utf-16"}),   # the codec writes its BOM
    "utf-8 BOM": ("utf-8", codecs.BOM_UTF8, RUSSIAN, {}),
    "cp1251 detected": ("cp1251", b"", RUSSIAN, {}),
    "latin-1 detected": ("latin-1", b"", FRENCH, {}),
    "latin-1 configured": ("latin-1", b"", FRENCH, {"encoding": "latin-1"}),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(ENCODED))
def test_policy_encodings_are_decoded_not_mangled(tmp_path, kind, case):
    encoding, bom, text, settings = ENCODED[case]
    write(tmp_path, kind, text, encoding=encoding, bom=bom)
    [record] = read(tmp_path, kind, **settings)
    assert isinstance(record, Article), record
    assert text in record.text.replace("\n", " ")


@pytest.mark.parametrize("kind", KINDS)
def test_policy_binary_files_are_rejected(tmp_path, kind):
    (tmp_path / f"x.{ {'scraped': 'txt'}.get(kind, kind) }").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    [record] = read(tmp_path, kind)
    assert isinstance(record, Rejected) and record.reason == "binary content (NUL bytes)"


@pytest.mark.parametrize("kind", ["scraped", "html"])
def test_policy_broken_utf8_page_is_rejected_not_guessed(tmp_path, kind):
    path = write(tmp_path, kind, FRENCH)
    path.write_bytes(path.read_bytes().replace("grève".encode(), b"gr\xe8ve"))   # one latin-1 byte
    [record] = read(tmp_path, kind)
    assert isinstance(record, Rejected) and record.reason.startswith("undecodable bytes (invalid UTF-8")


def test_policy_broken_utf8_line_rejects_only_that_line(tmp_path):
    lines = [json.dumps({"text": FRENCH}, ensure_ascii=False).encode(), b'{"text": "caf\xe9 noir"}',
             json.dumps({"text": RUSSIAN}, ensure_ascii=False).encode()]
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    records = read(tmp_path, "jsonl")
    assert [type(r) for r in records] == [Article, Rejected, Article]
    assert records[1].reason.startswith("undecodable bytes (utf-8") and records[1].input.endswith("a.jsonl:2")


def test_policy_a_bad_csv_is_rejected_alone(tmp_path):
    write(tmp_path, "csv", ENGLISH, name="a-good")
    write(tmp_path, "csv", FRENCH, name="b-latin1", encoding="latin-1")
    (tmp_path / "c-binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    records = read(tmp_path, "csv")
    assert [a.body for a in articles(records)] == [ENGLISH, FRENCH]
    assert reasons(records) == {"c-binary.csv": "binary content (NUL bytes)"}


@pytest.mark.parametrize("kind", KINDS)
def test_policy_nul_in_decoded_text_rejects_the_document(tmp_path, kind):
    write(tmp_path, kind, ENGLISH.replace("cargo", "car\x00go"))
    [record] = read(tmp_path, kind)
    assert isinstance(record, Rejected) and record.reason.startswith("binary content (NUL bytes)")


# ---- JSONL field types, deep nesting -------------------------------------------------------------
def _jsonl_rows(tmp_path, *rows, **columns) -> list:
    (tmp_path / "a.jsonl").write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows))
    return read(tmp_path, "jsonl", columns=columns)


def test_policy_jsonl_list_in_a_scalar_field(tmp_path):
    one, two, empty = _jsonl_rows(tmp_path, {"text": "a b", "section": ["World"]},
                                  {"text": "c d", "section": ["World", "Europe"]}, {"text": "e f", "section": []},
                                  section="section")
    assert one.section == "World"
    assert two.reason == "column 'section' (source.columns.section): expected one string, got a list of 2 values"
    assert empty.reason.startswith("column 'section'")


@pytest.mark.parametrize("row, key", [({"text": 12345}, "text"), ({"text": "ok", "title": 7}, "title"),
                                      ({"text": {"html": "x"}}, "text"), ({"text": "ok", "title": True}, "title"),
                                      ({"text": "ok", "tags": {"a": 1}}, "tags"), ({"text": "ok", "tags": [["x"]]}, "tags")])
def test_policy_jsonl_wrong_types_reject_the_row_naming_the_key(tmp_path, row, key):
    [record] = _jsonl_rows(tmp_path, row, title="title", tags="tags")
    assert isinstance(record, Rejected) and record.reason.startswith(f"column {key!r}")


def test_policy_jsonl_numbers_where_text_is_a_label(tmp_path):
    [record] = _jsonl_rows(tmp_path, {"text": "body", "id": 17, "section": 4, "tags": ["a", 2]},
                           id="id", section="section", tags="tags")
    assert (record.id, record.section, record.tags) == ("17", "4", ["a", "2"])


def test_policy_jsonl_deeply_nested_line_is_rejected(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    records = _jsonl_rows(tmp_path, {"text": "before"}, deep + "\n", '{"text": "x", "tags": ' + deep + "}\n",
                          {"text": "after"}, '{"text": "n", "id": ' + "9" * 5000 + "}\n")
    assert [type(r) for r in records] == [Article, Rejected, Rejected, Article, Rejected]
    assert records[1].reason == records[2].reason == "invalid JSON: nested too deeply"
    assert records[4].reason.startswith("invalid JSON")


def test_policy_csv_deeply_nested_list_cell_is_a_plain_string(tmp_path):
    (tmp_path / "a.csv").write_text("text,tags\nbody," + "[" * 100_000 + "\n")
    [record] = read(tmp_path, "csv", columns={"tags": "tags"})
    assert isinstance(record, Article) and record.tags == ["[" * 100_000]


def test_policy_missing_body_column_rejects_that_file_when_others_have_it(tmp_path):
    write(tmp_path, "jsonl", ENGLISH, name="a")
    (tmp_path / "b.jsonl").write_text(json.dumps({"content": "other export"}) + "\n")
    records = read(tmp_path, "jsonl")
    assert len(articles(records)) == 1
    assert reasons(records) == {"b.jsonl": "body column 'text' not in the file; set source.columns.body"}


# ---- duplicate ids -------------------------------------------------------------------------------
def test_policy_build_rejects_later_duplicates_of_an_id(tmp_path):
    from trainer.data.build import build_dataset
    from trainer.data.config import DataConfig
    from trainer.data.dataset_io import load_dataset_dir
    import random
    rng = random.Random(0)
    arts = [Article(id=f"d{i % 25}", source="t", body=" ".join(f"w{rng.randrange(10_000)}" for _ in range(40)),
                    topics=[["x"], ["y"]][i % 2]) for i in range(30)]
    cfg = DataConfig.model_validate({"source": {"kind": "jsonl"}, "labels": {"region": None}})
    manifest = build_dataset(cfg, articles=arts, output=tmp_path / "ds").manifest
    assert manifest["rejected"] == {"duplicate id": 5}
    dsd, _ = load_dataset_dir(tmp_path / "ds")
    ids = [i for s in dsd for i in dsd[s]["id"]]
    assert len(ids) == len(set(ids)) == 25


def test_policy_inspect_fails_on_duplicate_ids(tmp_path):
    from test_inspect import _clean, _write

    from trainer.data.inspect import inspect_dataset
    splits = _clean()
    splits["test"][0]["id"] = splits["train"][0]["id"]
    report = inspect_dataset(_write(tmp_path / "ds", splits))
    assert not report.ok
    assert next(c for c in report.checks if c.name == "duplicate ids").details == ["d0"]
    result = CliRunner().invoke(app, ["data", "inspect", str(tmp_path / "ds")])
    assert result.exit_code == 1 and "duplicate ids" in result.output


def test_policy_lone_surrogate_in_json_rejects_the_row(tmp_path):
    """JSON may escape half a UTF-16 pair ("\\ud800"); such text cannot be written as UTF-8 (the build
    crashed writing the dataset): the row is rejected naming the column."""
    records = _jsonl_rows(tmp_path, '{"text": "bad \\ud800 half"}\n', '{"text": "ok", "tags": ["\\udfff"]}\n',
                          {"text": "fine"}, tags="tags")
    assert [type(r) for r in records] == [Rejected, Rejected, Article]
    assert records[0].reason == "invalid text (a lone UTF-16 surrogate) in column 'text'"
    assert records[1].reason == "invalid text (a lone UTF-16 surrogate) in column 'tags'"


@pytest.mark.parametrize("kind", ["scraped", "jsonl"])
def test_policy_file_name_that_is_not_utf8_is_rejected(tmp_path, kind):
    from trainer.data.build import build_dataset
    from trainer.data.config import DataConfig
    src = tmp_path / "src"
    for i in range(12):
        write(src, kind, f"{ENGLISH} Story number {i} is about {i * 17} tonnes of wheat.", name=f"d{i}")
    odd = src / os.fsdecode(b"caf\xe9" + (b".txt" if kind == "scraped" else b".jsonl"))
    odd.write_bytes(render(kind, FRENCH).encode())
    cfg = DataConfig.model_validate({"source": {"kind": kind, "path": str(src)}, "output": str(tmp_path / "ds"),
                                     "labels": {"topic": {"drop_unlabelled": False}, "region": None}})
    manifest = build_dataset(cfg).manifest
    rejects = [json.loads(line) for line in (tmp_path / "ds" / "rejects.jsonl").read_text("utf-8").splitlines()]
    assert rejects == [{"input": str(src / "caf\\xe9") + (".txt" if kind == "scraped" else ".jsonl"),
                        "reason": "file name is not valid UTF-8"}]
    assert manifest["accounting"]["read"] == 13
