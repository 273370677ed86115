"""Reuters-21578 reader: `<REUTERS>` SGML blocks from the tar.gz (read in place) or a folder of reut2-*.sgm.

SGML is not XML (unquoted entities such as `&#3;`, no root element), so each block is cut out by its
open tag and parsed with regexes; text is decoded as latin-1, which cannot fail on any byte.
"""
from __future__ import annotations

import html
import re
import tarfile
import zlib
from fnmatch import fnmatch
from pathlib import Path
from typing import Iterator

from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.data.dates import parse_reuters_date
from trainer.data.readers.files import read_file
from trainer.data.readers.plan import ReadPlan
from trainer.data.sources import REGISTRY, locate
from trainer.errors import DataError

ARCHIVE = "reuters21578.tar.gz"
MEMBER_GLOB = REGISTRY[ARCHIVE].members or "reut2-*.sgm"

_OPEN = re.compile(r"<REUTERS\b([^>]*)>")
_CLOSE = "</REUTERS>"
_ATTR = re.compile(r'([A-Z]+)\s*=\s*"([^"]*)"')
_D = re.compile(r"<D>(.*?)</D>", re.S)
_TEXT = re.compile(r"<TEXT\b([^>]*)>(.*?)</TEXT>", re.S)
_TAG = re.compile(r"</?[A-Z]+\b[^>]*>")
# C0/C1 controls except tab/newline: the feed's &#2;/&#3; start/end markers, &#31;, &#127;, raw bytes
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\xa0]+")
# the wire sign-off: "Reuter", "REUTER...", "reuter^M" alone on the last line or ending it (a few twice)
_SIGNOFF = re.compile(r"(?:(?:^|\s)reuters?(?:\.{2,})?(?:\^M)?)+\s*\Z", re.I)
_ELEMENTS: dict[str, re.Pattern] = {}


def inputs(source: SourceConfig) -> list[Path]:
    """The archive, or the .sgm files of an unpacked folder (what the manifest checksums)."""
    root = _root(source)
    return _sgm_files(root) if root.is_dir() else [root]


def plan(source: SourceConfig) -> ReadPlan:
    """Units: (where, raw bytes, None) per SGML file, or (where, None, reason) for one the OS cannot read,
    streamed from the archive; at most source.limit records are read from them."""
    return ReadPlan(_members(_root(source)), limit=source.limit, unit_records=1000)   # ~1,000 documents a file


def read_unit(source: SourceConfig, unit: tuple[str, bytes | None, str | None], state=None) -> Iterator[Article | Rejected]:
    """Every document of one SGML file as an Article, or a Rejected saying why it could not be read."""
    where, raw, reason = unit
    yield from parse_sgml(raw, where) if raw is not None else [Rejected(where, reason)]


def parse_sgml(raw: bytes, where: str) -> Iterator[Article | Rejected]:
    """Documents of one .sgm file; `where` names the file in paths and reject records."""
    if b"\x00" in raw:
        yield Rejected(where, "binary content (NUL bytes), not Reuters SGML")
        return
    text = raw.decode("latin-1")
    opens = list(_OPEN.finditer(text))
    if not opens:
        yield Rejected(where, "no <REUTERS> documents in file")
        return
    for i, match in enumerate(opens):
        end = opens[i + 1].start() if i + 1 < len(opens) else len(text)
        close = text.find(_CLOSE, match.end(), end)
        attrs = dict(_ATTR.findall(match.group(1)))
        label = f"{where}#{attrs.get('NEWID', f'block{i + 1}')}"
        if close < 0:
            yield Rejected(label, "truncated document: <REUTERS> without </REUTERS>")
            continue
        yield parse_document(attrs, text[match.end():close], where, label)


def parse_document(attrs: dict[str, str], block: str, where: str, label: str) -> Article | Rejected:
    newid = attrs.get("NEWID", "").strip()
    if not newid.isdigit():
        return Rejected(label, "document without a numeric NEWID attribute")
    text_match = _TEXT.search(block)
    if text_match is None:
        return Rejected(label, "no <TEXT> element (garbled document)")
    kind = dict(_ATTR.findall(text_match.group(1))).get("TYPE", "NORM")
    inner = text_match.group(2)
    if kind == "UNPROC":
        title, body = "", clean_body(_TAG.sub(" ", inner))
    else:
        title = clean_line(_element(inner, "TITLE") or "")
        body = with_dateline(clean_line(_element(inner, "DATELINE") or ""), clean_body(_element(inner, "BODY") or ""))
    if not title and not body:
        return Rejected(label, f"empty document (TYPE={kind}: no title and no body text)")
    lewis, topics_attr = attrs.get("LEWISSPLIT", ""), attrs.get("TOPICS", "")
    return Article(
        id=f"reuters-{newid}", source="reuters", title=title, body=body,
        published=parse_reuters_date(_element(block, "DATE") or ""),
        topics=_codes(block, "TOPICS"), places=_codes(block, "PLACES"),
        path=f"{where}#{newid}", split=modapte_split(lewis, topics_attr),
        meta={"type": kind, "lewissplit": lewis, "cgisplit": attrs.get("CGISPLIT", ""),
              "topics_attr": topics_attr,
              "dateline": clean_line(_element(inner, "DATELINE") or "").rstrip(" -"),
              "people": _codes(block, "PEOPLE"), "orgs": _codes(block, "ORGS"),
              "exchanges": _codes(block, "EXCHANGES"), "oldid": attrs.get("OLDID", "")},
    )


def modapte_split(lewissplit: str, topics_attr: str) -> str | None:
    """The ModApte split of README.txt section VIII.B: TRAIN/TEST documents with TOPICS="YES"."""
    if topics_attr != "YES":
        return None
    return {"TRAIN": "train", "TEST": "test"}.get(lewissplit)


def clean_text(raw: str) -> str:
    """Entities decoded, control characters removed, whitespace collapsed inside each line."""
    text = _CONTROL.sub("", html.unescape(raw).replace("\r", ""))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean_line(raw: str) -> str:
    return " ".join(clean_text(raw).split())


def with_dateline(dateline: str, body: str) -> str:
    """The story as the wire printed it: "TOKYO, March 3 - text". The dateline is part of the text
    a reader (or a model, or the text region labeller) sees, not metadata."""
    dateline = dateline.rstrip(" -")
    return f"{dateline} - {body}" if dateline and body else body


def clean_body(raw: str) -> str:
    return _SIGNOFF.sub("", clean_text(raw)).strip()


def _element(block: str, tag: str) -> str | None:
    pattern = _ELEMENTS.get(tag)
    if pattern is None:
        pattern = _ELEMENTS[tag] = re.compile(rf"<{tag}>(.*?)</{tag}>", re.S)
    match = pattern.search(block)
    return match.group(1) if match else None


def _codes(block: str, tag: str) -> list[str]:
    inner = _element(block, tag)
    return [clean_line(d) for d in _D.findall(inner)] if inner else []


def _root(source: SourceConfig) -> Path:
    return locate(ARCHIVE, source)


def _sgm_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.glob(MEMBER_GLOB) if p.is_file())
    if not files:
        raise DataError(f"{folder}: no {MEMBER_GLOB} files (Reuters-21578 SGML) in this folder")
    return files


def _members(root: Path) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(where, raw bytes, None) per SGML file, or (where, None, reason) for a file the OS cannot read;
    `where` is the file, or `archive!member`. The archive is one input: a broken one stops the build."""
    if root.is_dir() or root.suffix.lower() == ".sgm":
        for path in _sgm_files(root) if root.is_dir() else [root]:
            yield str(path), *read_file(path)
    else:
        for where, raw in _archive_members(root):
            yield where, raw, None


def _archive_members(archive: Path) -> Iterator[tuple[str, bytes]]:
    """The reut2-*.sgm members, streamed in archive order without extracting anything to disk."""
    found = False
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = Path(member.name).name
                if not member.isfile() or not fnmatch(name, MEMBER_GLOB):
                    continue
                found = True
                handle = tar.extractfile(member)
                yield f"{archive}!{member.name}", handle.read() if handle is not None else b""
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{archive}: not a readable tar archive ({exc}); re-fetch it or point "
                        "source.path at a folder of reut2-*.sgm files") from None
    if not found:
        raise DataError(f"{archive}: no {MEMBER_GLOB} members; is this the Reuters-21578 archive?")
