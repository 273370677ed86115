"""HTML pages through trafilatura: main text, metadata, rejects."""
from __future__ import annotations

import pytest

from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.data.readers import read_articles

PARAGRAPHS = [
    "Two cargo ships collided off the coast of Crete on Thursday morning, the Greek coast guard said, "
    "adding that no one was hurt in the accident.",
    "The vessels, one flying a Maltese flag and the other a Liberian one, were sailing in poor visibility "
    "when they struck each other about ten nautical miles south of the island.",
    "Officials said an investigation had been opened and that both ships would be inspected in port "
    "before being allowed to continue their journeys.",
]
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Ships collide off Crete | The Daily Wire</title>
<meta property="article:published_time" content="2021-03-04T10:00:00Z">
<meta property="article:section" content="World News">
<meta name="keywords" content="shipping, Greece, accidents">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<article><h1>Ships collide off Crete</h1>{paragraphs}</article>
<footer><p>Copyright 2021 The Daily Wire. All rights reserved. Subscribe to our newsletter.</p></footer>
</body></html>"""


def _write(folder, name: str, html: str | bytes):
    path = folder / name
    path.write_bytes(html if isinstance(html, bytes) else html.encode("utf-8"))
    return path


def _read(path, **kw) -> list:
    return list(read_articles(SourceConfig(kind="html", path=str(path), **kw)))


@pytest.fixture(scope="module")
def article(tmp_path_factory) -> Article:
    folder = tmp_path_factory.mktemp("html")
    _write(folder, "ships.html", PAGE.format(paragraphs="".join(f"<p>{p}</p>" for p in PARAGRAPHS)))
    [record] = _read(folder)
    assert isinstance(record, Article), record
    return record


def test_html_main_text_without_navigation_or_footer(article):
    assert all(p in article.body for p in PARAGRAPHS)
    assert "Home" not in article.body and "Copyright" not in article.body


def test_html_title_not_repeated_in_body(article):
    assert article.title == "Ships collide off Crete"
    assert not article.body.startswith(article.title)


def test_html_metadata_date_section_tags(article):
    assert article.published == "2021-03-04"
    assert article.section == "World News"
    assert article.tags == ["shipping", "Greece", "accidents"]


def test_html_id_and_path(article):
    assert article.id == "ships" and article.path.endswith("ships.html")


def test_html_declared_charset_is_used(tmp_path):
    page = PAGE.replace('charset="utf-8"', 'charset="iso-8859-7"').format(
        paragraphs="".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "<p>Η ακτοφυλακή ερευνά το ατύχημα στην Κρήτη σήμερα.</p>")
    _write(tmp_path, "greek.html", page.encode("iso-8859-7"))
    [record] = _read(tmp_path)
    assert "ακτοφυλακή" in record.body


def test_html_rejects_empty_file(tmp_path):
    _write(tmp_path, "empty.html", b"")
    [record] = _read(tmp_path)
    assert isinstance(record, Rejected) and record.reason == "empty file"


def test_html_rejects_binary_file(tmp_path):
    _write(tmp_path, "x.html", b"GIF89a\x01\x00\x01\x00\x00\xff\x00,")
    [record] = _read(tmp_path)
    assert isinstance(record, Rejected) and "binary" in record.reason


def test_html_rejects_page_without_main_text(tmp_path):
    _write(tmp_path, "nav.html", "<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav></body></html>")
    [record] = _read(tmp_path)
    assert isinstance(record, Rejected) and "no main text" in record.reason


def test_html_limit_and_accounting(tmp_path):
    for k in range(3):
        _write(tmp_path, f"p{k}.html", PAGE.format(paragraphs=f"<p>Story {k}. {PARAGRAPHS[k]}</p>" * 2))
    _write(tmp_path, "z.html", b"")
    assert len(_read(tmp_path)) == 4
    assert len(_read(tmp_path, limit=2)) == 2
