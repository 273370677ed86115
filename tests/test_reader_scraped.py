"""Scraped plain-text pages: the shared sample, frequency-based boilerplate, bad input."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.data.readers import input_files, read_articles
from trainer.data.synthetic import PLANET_BOILERPLATE, SPUTNIK_BOILERPLATE, write_pages
from trainer.errors import DataError

SAMPLE_TAGS = ["Shanghai Cooperation Organization", "terrorism", "CIS", "CSTO", "Russian Defense Ministry",
               "Sergei Shoigu", "Kyrgyzstan", "Afghanistan", "Tajikistan", "Russia"]
# The unseen outlet's profile knows none of its boilerplate: only line frequency can find it.
PLANET_PROFILE = {"section_line": 3, "section_after": [], "footer_markers": [], "boilerplate": []}


def _read(path, **kw) -> list:
    return list(read_articles(SourceConfig(kind="scraped", path=str(path), **kw)))


@pytest.fixture(scope="module")
def sample(scraped_sample_dir) -> Article:
    records = _read(scraped_sample_dir)
    assert len(records) == 1 and isinstance(records[0], Article), records
    return records[0]


def test_scraped_sample_section(sample):
    assert sample.section == "Military & Intelligence"


def test_scraped_sample_tags(sample):
    assert sample.tags == SAMPLE_TAGS


def test_scraped_sample_published(sample):
    assert sample.published.startswith("2020-02-18")


def test_scraped_sample_body_has_no_boilerplate(sample):
    for noise in ["Listen Live", "Get short URL", "0 124", "Community standards", "Comment via",
                  "Military & Intelligence", "Kyrgyzstan, Afghanistan, Tajikistan"]:
        assert noise not in sample.body


def test_scraped_sample_related_headlines_in_meta_not_body(sample):
    assert sample.meta["related"][0] == "Land War in Asia: Kyrgyzstan, Tajikistan to Launch Joint Drills"
    assert len(sample.meta["related"]) == 4
    assert not any(h in sample.body for h in sample.meta["related"])


def test_scraped_sample_body_starts_at_lead_and_keeps_paragraphs(sample):
    assert sample.body.startswith("Moscow is interested in its allies' ability")
    assert "MOSCOW (Sputnik) — Russian Defense Minister" in sample.body
    assert sample.body.rstrip().endswith("terrorist threats from Afghanistan,\" Shoigu said.")
    assert "\u00a0" not in sample.body


def test_scraped_sample_title_is_lead_sentence(sample):
    assert sample.title.startswith("Moscow is interested")
    assert sample.body.startswith(sample.title)
    assert sample.text == sample.body


def test_scraped_synthetic_pages_recover_parts(tmp_path):
    pages = write_pages(tmp_path / "sputnik", 12, "sputnik", seed=3)
    articles = _read(tmp_path / "sputnik")
    for page, art in zip(pages, articles, strict=True):
        assert (art.section, art.tags, art.meta["related"]) == (page.section, page.tags, page.related)
        assert art.published[:10] == page.published
        assert all(p in art.body for p in page.paragraphs)
        assert not any(b in art.body for b in SPUTNIK_BOILERPLATE)


def test_scraped_frequency_removes_unseen_outlet_boilerplate(tmp_path):
    pages = write_pages(tmp_path / "planet", 20, "planet", seed=5)
    articles = _read(tmp_path / "planet", profile=PLANET_PROFILE)
    for page, art in zip(pages, articles, strict=True):
        assert not any(b in art.body for b in PLANET_BOILERPLATE), art.body
        assert art.body.startswith(page.paragraphs[0]) and all(p in art.body for p in page.paragraphs)
        assert (art.section, art.tags, art.meta["related"]) == (page.section, page.tags, page.related)


def test_scraped_frequency_needs_min_files(tmp_path):
    write_pages(tmp_path / "planet", 3, "planet", seed=5)
    articles = _read(tmp_path / "planet", profile=PLANET_PROFILE)
    assert all("Subscribe to our newsletter" in a.body for a in articles)


def test_scraped_frequency_is_counted_per_outlet(tmp_path):
    write_pages(tmp_path / "planet", 6, "planet", seed=1)
    write_pages(tmp_path / "other", 1, "planet", seed=2)   # a lone page of another outlet: no frequency
    by_outlet = {a.source: a for a in _read(tmp_path, profile=PLANET_PROFILE) if isinstance(a, Article)}
    assert "Share on Twitter" not in by_outlet["planet"].body
    assert "Share on Twitter" in by_outlet["other"].body


def test_scraped_outlet_from_profile(tmp_path):
    write_pages(tmp_path / "x", 1)
    assert _read(tmp_path / "x", profile={"outlet": "sputniknews.com"})[0].source == "sputniknews.com"


def test_scraped_rejects_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"  \n\n")
    assert _read(tmp_path) == [Rejected(str(tmp_path / "empty.txt"), "empty file")]


def test_scraped_rejects_binary_file(tmp_path):
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    [record] = _read(tmp_path)
    assert isinstance(record, Rejected) and "binary" in record.reason


def test_scraped_rejects_undecodable_bytes(tmp_path):
    (tmp_path / "garbage.txt").write_bytes(bytes(range(1, 256)) * 4)
    [record] = _read(tmp_path)
    assert isinstance(record, Rejected) and "undecodable" in record.reason


def test_scraped_decodes_cp1252_fallback(tmp_path, scraped_sample_dir):
    text = next(scraped_sample_dir.iterdir()).read_text(encoding="utf-8").replace("Shoigu said", "Shoigu said in a café")
    (tmp_path / "page.txt").write_bytes(text.encode("cp1252"))
    [record] = _read(tmp_path)
    assert isinstance(record, Article) and "in a café" in record.body


def test_scraped_rejects_page_without_body(tmp_path):
    (tmp_path / "p.txt").write_text("08:25 GMT18 February 2020\nListen Live\n    World\n    Get short URL\n    0 12\n")
    [record] = _read(tmp_path)
    assert isinstance(record, Rejected) and "no body" in record.reason


def test_scraped_accounts_for_every_file(tmp_path):
    write_pages(tmp_path, 4)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bin.txt").write_bytes(b"a\x00b")
    records = _read(tmp_path)
    assert len(records) == len(input_files(SourceConfig(kind="scraped", path=str(tmp_path)))) == 6
    assert sum(isinstance(r, Rejected) for r in records) == 2


def test_scraped_single_file_path(tmp_path, scraped_sample_dir):
    page = shutil.copy(next(scraped_sample_dir.iterdir()), tmp_path / "one.txt")
    [record] = _read(page)
    assert record.id == "one" and record.tags == SAMPLE_TAGS


def test_scraped_pattern_and_limit(tmp_path):
    write_pages(tmp_path, 5)
    (tmp_path / "notes.md").write_text("not a page")
    records = _read(tmp_path, pattern="*.txt")
    assert sum(isinstance(r, Article) for r in records) == 5
    # a file the pattern leaves out is accounted for, as a reject that source.limit does not count
    assert [(Path(r.input).name, r.reason.startswith("file not matched by source.pattern '*.txt'"))
            for r in records if isinstance(r, Rejected)] == [("notes.md", True)]
    assert sum(isinstance(r, Article) for r in _read(tmp_path, pattern="*.txt", limit=2)) == 2


def test_scraped_missing_path_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="source.path"):
        _read(tmp_path / "nowhere")
