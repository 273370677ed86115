"""Input helpers shared by the file-based readers: which files to read, and how to decode them."""
from __future__ import annotations

import codecs
import re
from pathlib import Path

from trainer.data.config import SourceConfig
from trainer.errors import DataError

# Share of control characters above which decoded text is taken for binary or undecodable garbage.
_MAX_CONTROL_SHARE = 0.01
# Unicode category Cc (C0 and C1 controls), less the whitespace ones text files hold.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def list_files(source: SourceConfig) -> list[Path]:
    """`source.path` itself when it is a file, else the files under it matching `source.pattern`, sorted."""
    if source.path is None:
        raise DataError(f"source.path: required for kind {source.kind!r}; set it to a file or a directory")
    root = Path(source.path).expanduser()
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"source.path: {root} does not exist; set source.path to a file or a directory")
    files = sorted(p for p in root.glob(source.pattern) if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DataError(f"{root}: no files match source.pattern {source.pattern!r}; set source.pattern")
    return files


def decode_text(data: bytes, encoding: str = "utf-8") -> tuple[str | None, str | None]:
    """Return (text, None), or (None, reject reason) for empty, binary or undecodable bytes.

    Tries the configured encoding, then utf-8, then cp1252, then latin-1 (which decodes anything, so
    the result is checked for control characters, the mark of binary data read as text).
    """
    if not data.strip():
        return None, "empty file"
    if b"\x00" in data:
        return None, "binary file (NUL bytes)"
    for codec in dict.fromkeys((check_encoding(encoding), "utf-8", "cp1252", "latin-1")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if _control_share(text) > _MAX_CONTROL_SHARE:
            return None, f"undecodable bytes (control characters after decoding as {codec})"
        return text.lstrip("\ufeff"), None
    return None, "undecodable bytes"


def check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"source.encoding: unknown encoding {encoding!r}; use e.g. utf-8, cp1252, latin-1") from None


def _control_share(text: str) -> float:
    return len(_CONTROLS.findall(text)) / max(len(text), 1)
