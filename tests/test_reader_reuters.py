"""Reuters-21578 SGML reader: small hand-written SGML, then the real archive when the mirror has it."""
from __future__ import annotations

import collections
import io
import re
import tarfile

import pytest

from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.data.readers import input_files, read_articles
from trainer.data.dates import parse_reuters_date
from trainer.data.readers.reuters import modapte_split, parse_sgml

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

NORM_DOC = """<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="5544" NEWID="1">
<DATE>26-FEB-1987 15:01:01.79</DATE>
<TOPICS><D>cocoa</D><D>grain</D></TOPICS>
<PLACES><D>el-salvador</D><D>usa</D></PLACES>
<PEOPLE><D>volcker</D></PEOPLE>
<ORGS><D>imf</D></ORGS>
<EXCHANGES><D>nyse</D></EXCHANGES>
<COMPANIES></COMPANIES>
<UNKNOWN> &#5;&#5;&#5;C T
&#22;&#22;&#1;f0704&#31;reute</UNKNOWN>
<TEXT>&#2;
<TITLE>BAHIA &amp; COCOA   REVIEW</TITLE>
<DATELINE>    SALVADOR, Feb 26 - </DATELINE><BODY>Showers continued   throughout the week in
the Bahia cocoa zone, said &lt;Comissaria Smith>.&#127;
    Arrivals rose.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
"""

BRIEF_DOC = """<REUTERS TOPICS="YES" LEWISSPLIT="TEST" CGISPLIT="TRAINING-SET" OLDID="5573" NEWID="30">
<DATE>26-FEB-1987 15:41:56.54</DATE>
<TOPICS><D>money-supply</D></TOPICS>
<PLACES></PLACES>
<PEOPLE></PEOPLE>
<ORGS></ORGS>
<EXCHANGES></EXCHANGES>
<COMPANIES></COMPANIES>
<TEXT TYPE="BRIEF">&#2;
******<TITLE>ASSETS OF MONEY MARKET MUTUAL FUNDS ROSE
</TITLE>Blah blah blah.
&#3;

</TEXT>
</REUTERS>
"""

UNPROC_DOC = """<REUTERS TOPICS="NO" LEWISSPLIT="NOT-USED" CGISPLIT="TRAINING-SET" OLDID="5642" NEWID="99">
<DATE>26-FEB-1987 16:34:34.40&#5;&#5;&#5;RM</DATE>
<TOPICS></TOPICS>
<PLACES><D>usa</D></PLACES>
<PEOPLE></PEOPLE>
<ORGS></ORGS>
<EXCHANGES></EXCHANGES>
<COMPANIES></COMPANIES>
<TEXT TYPE="UNPROC">&#2;
FEDERAL RESERVE WEEKLY REPORT 1 - FEB 26
    Net free reserves.............644 vs.....1,337
 REUTER
&#3;

</TEXT>
</REUTERS>
"""

HEADER = '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n'


def _sgml(*docs: str) -> bytes:
    return (HEADER + "".join(docs)).encode("latin-1")


def _parse(*docs: str) -> list:
    return list(parse_sgml(_sgml(*docs), "reut2-000.sgm"))


def _one(doc: str) -> Article:
    (article,) = _parse(doc)
    assert isinstance(article, Article), article
    return article


def _archive(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_reader_reuters_reads_attributes_and_category_lists():
    a = _one(NORM_DOC)
    assert (a.id, a.source, a.split) == ("reuters-1", "reuters", "train")
    assert a.topics == ["cocoa", "grain"] and a.places == ["el-salvador", "usa"]
    assert a.meta == {"type": "NORM", "lewissplit": "TRAIN", "cgisplit": "TRAINING-SET",
                      "topics_attr": "YES", "dateline": "SALVADOR, Feb 26", "people": ["volcker"],
                      "orgs": ["imf"], "exchanges": ["nyse"], "oldid": "5544"}
    assert a.path == "reut2-000.sgm#1"


def test_reader_reuters_decodes_entities_and_whitespace_in_title():
    assert _one(NORM_DOC).title == "BAHIA & COCOA REVIEW"


def test_reader_reuters_body_opens_with_dateline_and_is_clean_text_without_signoff():
    body = _one(NORM_DOC).body
    assert body == ("SALVADOR, Feb 26 - Showers continued throughout the week in\n"
                    "the Bahia cocoa zone, said <Comissaria Smith>.\nArrivals rose.")


def test_reader_reuters_removes_control_characters():
    a = _one(NORM_DOC.replace("Arrivals", "Arr\x1fivals\x03"))
    assert not CONTROL.search(a.title + a.body + a.meta["dateline"])
    assert "Arrivals rose." in a.body


def test_reader_reuters_parses_the_date_to_iso():
    assert _one(NORM_DOC).published == "1987-02-26T15:01:01.790"


@pytest.mark.parametrize("raw, expected", [
    ("26-FEB-1987 15:01:01.79", "1987-02-26T15:01:01.790"),
    ("  3-MAR-1987 00:43:42.82", "1987-03-03T00:43:42.820"),
    ("26-FEB-1987 16:34:34.40&#5;&#5;&#5;RM", "1987-02-26T16:34:34.400"),
    ("31-MAR-1987 605:12:19.12", "1987-03-31"),     # impossible hour: keep the day
    ("no date here", None),
    ("31-FOO-1987 10:00:00.00", None),
])
def test_reader_reuters_parse_date_variants(raw, expected):
    assert parse_reuters_date(raw) == expected


def test_reader_reuters_brief_has_title_and_no_body():
    a = _one(BRIEF_DOC)
    assert a.title == "ASSETS OF MONEY MARKET MUTUAL FUNDS ROSE"
    assert a.body == "" and a.meta["type"] == "BRIEF" and a.split == "test"


def test_reader_reuters_unproc_text_becomes_the_body():
    a = _one(UNPROC_DOC)
    assert a.meta["type"] == "UNPROC" and a.title == "" and a.split is None
    assert a.body == "FEDERAL RESERVE WEEKLY REPORT 1 - FEB 26\nNet free reserves.............644 vs.....1,337"


def test_reader_reuters_empty_document_is_rejected():
    empty = UNPROC_DOC.replace("FEDERAL RESERVE WEEKLY REPORT 1 - FEB 26\n", "").replace(
        "    Net free reserves.............644 vs.....1,337\n REUTER\n", "")
    (record,) = _parse(empty)
    assert isinstance(record, Rejected) and "empty" in record.reason


def test_reader_reuters_file_cut_mid_document_rejects_only_that_document():
    records = _parse(NORM_DOC, BRIEF_DOC[:300])
    assert isinstance(records[0], Article)
    assert isinstance(records[1], Rejected) and records[1].input == "reut2-000.sgm#30"
    assert "truncated" in records[1].reason


def test_reader_reuters_unclosed_document_does_not_swallow_the_next():
    unclosed = NORM_DOC.replace("</REUTERS>\n", "")
    records = _parse(unclosed, BRIEF_DOC)
    assert isinstance(records[0], Rejected)
    assert isinstance(records[1], Article) and records[1].id == "reuters-30"


def test_reader_reuters_document_without_text_is_rejected():
    garbled = re.sub(r"<TEXT>.*</TEXT>", "", NORM_DOC, flags=re.S)
    (record,) = _parse(garbled)
    assert isinstance(record, Rejected) and "TEXT" in record.reason


@pytest.mark.parametrize("raw, reason", [(b"", "no <REUTERS>"), (b"\x1f\x8b\x00\x00binary", "binary")])
def test_reader_reuters_empty_or_binary_file_is_rejected(raw, reason):
    (record,) = list(parse_sgml(raw, "reut2-009.sgm"))
    assert isinstance(record, Rejected) and reason in record.reason and record.input == "reut2-009.sgm"


def test_reader_reuters_decodes_non_ascii_bytes_as_latin1():
    raw = _sgml(NORM_DOC).replace(b"Arrivals rose.", b"Arrivals rose.\xfc")
    (a,) = list(parse_sgml(raw, "reut2-017.sgm"))
    assert "Arrivals rose.\u00fc" in a.body


@pytest.mark.parametrize("lewis, topics, split", [
    ("TRAIN", "YES", "train"), ("TEST", "YES", "test"), ("TRAIN", "NO", None),
    ("TEST", "BYPASS", None), ("NOT-USED", "YES", None),
])
def test_reader_reuters_modapte_split(lewis, topics, split):
    assert modapte_split(lewis, topics) == split


def test_reader_reuters_reads_archive_members_in_place(tmp_path):
    archive = _archive(tmp_path / "r.tar.gz", {
        "README.txt": b"not sgml", "reut2-000.sgm": _sgml(NORM_DOC), "reut2-001.sgm": _sgml(BRIEF_DOC)})
    source = SourceConfig(kind="reuters", path=str(archive))
    records = list(read_articles(source))
    assert [r.id for r in records] == ["reuters-1", "reuters-30"]
    assert records[1].path == f"{archive}!reut2-001.sgm#30"
    assert input_files(source) == [archive]


def test_reader_reuters_reads_a_folder_of_sgm_files(tmp_path):
    (tmp_path / "reut2-001.sgm").write_bytes(_sgml(BRIEF_DOC))
    (tmp_path / "reut2-000.sgm").write_bytes(_sgml(NORM_DOC, UNPROC_DOC))
    source = SourceConfig(kind="reuters", path=str(tmp_path))
    assert [r.id for r in read_articles(source)] == ["reuters-1", "reuters-99", "reuters-30"]
    assert input_files(source) == [tmp_path / "reut2-000.sgm", tmp_path / "reut2-001.sgm"]


def test_reader_reuters_respects_the_limit(tmp_path):
    (tmp_path / "reut2-000.sgm").write_bytes(_sgml(NORM_DOC, BRIEF_DOC, UNPROC_DOC))
    source = SourceConfig(kind="reuters", path=str(tmp_path), limit=2)
    assert len(list(read_articles(source))) == 2


def test_reader_reuters_corrupt_archive_is_a_data_error(tmp_path):
    from trainer.errors import DataError
    bad = tmp_path / "reuters21578.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    with pytest.raises(DataError, match="not a readable tar"):
        list(read_articles(SourceConfig(kind="reuters", path=str(bad))))


# ---- the real collection (skips when the mirror is absent) ----

@pytest.fixture(scope="module")
def real_records(reuters_archive) -> list:
    return list(read_articles(SourceConfig(kind="reuters", path=str(reuters_archive))))


@pytest.fixture(scope="module")
def real_articles(real_records) -> list[Article]:
    return [r for r in real_records if isinstance(r, Article)]


def _member_lines(archive, name: str) -> set[str]:
    with tarfile.open(archive) as tar:
        return set(tar.extractfile(name).read().decode("latin-1").split())


def test_reader_reuters_real_archive_accounts_for_all_21578_documents(real_records):
    assert len(real_records) == 21_578
    rejected = [r for r in real_records if isinstance(r, Rejected)]
    assert all("empty document" in r.reason for r in rejected)   # NEWID 12793 holds no text at all
    assert len(rejected) <= 1


def test_reader_reuters_real_archive_ids_are_unique(real_articles):
    assert len({a.id for a in real_articles}) == len(real_articles)


def test_reader_reuters_real_archive_modapte_sizes(real_articles):
    # README.txt VIII.B: 9,603 train, 3,299 test
    splits = collections.Counter(a.split for a in real_articles)
    assert (splits["train"], splits["test"]) == (9_603, 3_299)


def test_reader_reuters_real_archive_modapte_90_categories(real_articles):
    train = {t for a in real_articles if a.split == "train" for t in a.topics}
    test = {t for a in real_articles if a.split == "test" for t in a.topics}
    both = train & test
    n_train = sum(1 for a in real_articles if a.split == "train" and set(a.topics) & both)
    n_test = sum(1 for a in real_articles if a.split == "test" and set(a.topics) & both)
    assert len(both) == 90 and n_train in (7_769, 7_770) and n_test == 3_019


def test_reader_reuters_real_archive_category_sets_match_readme(real_articles, reuters_archive):
    # README.txt VII: categories with 1+ occurrences; every code is a legal one of its list
    used = {
        "topics": {t for a in real_articles for t in a.topics},
        "places": {p for a in real_articles for p in a.places},
        "people": {p for a in real_articles for p in a.meta["people"]},
        "orgs": {p for a in real_articles for p in a.meta["orgs"]},
        "exchanges": {p for a in real_articles for p in a.meta["exchanges"]},
    }
    expected = {"topics": 120, "places": 147, "people": 114, "orgs": 32, "exchanges": 32}
    for field, codes in used.items():
        assert codes <= _member_lines(reuters_archive, f"all-{field}-strings.lc.txt"), field
        assert len(codes) == expected[field], field


def test_reader_reuters_real_archive_text_is_clean(real_articles):
    dirty = [a.id for a in real_articles if CONTROL.search(a.title + a.body) or "&#" in a.title + a.body]
    assert dirty == []
    signed = [a.id for a in real_articles if re.search(r"\breuter\W*\Z", a.body, re.I)]
    assert signed == []


def test_reader_reuters_real_archive_types_and_dates(real_articles):
    types = collections.Counter(a.meta["type"] for a in real_articles)
    assert set(types) == {"NORM", "BRIEF", "UNPROC"}
    assert all(a.body == "" for a in real_articles if a.meta["type"] == "BRIEF")
    assert all(a.published and a.published.startswith("1987-") for a in real_articles)
