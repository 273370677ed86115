"""Input helpers shared by the file-based readers: which entries to read, reading them, decoding them.

The reader policy (docs/contracts.md, "Reader policy") lives here, so that every reader applies it
the same way:

* every entry `source.pattern` matches is accounted for: a regular file inside `source.path` is read;
  a regular file below `source.path` that the pattern does not match is rejected (not silently skipped);
  a folder, a FIFO/socket/device (never opened), a dot-file or dot-folder, a broken symbolic link, or
  a symbolic link leading outside `source.path` is rejected with its reason;
* a file that cannot be read (EIO, permission denied, ...) is rejected with the OS error, and the
  build goes on;
* text is decoded by its byte-order mark, else the declared charset (HTML) or `source.encoding`, else
  the encoding charset-normalizer detects; what none of them decodes into text is rejected. Decoded
  text holding a NUL character, or more than 1% control characters, is binary and rejected.
"""
from __future__ import annotations

import codecs
import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from trainer.data.article import Rejected
from trainer.data.config import SourceConfig
from trainer.errors import DataError

# Share of control characters above which decoded text is taken for binary or undecodable garbage.
_MAX_CONTROL_SHARE = 0.01
# Unicode category Cc (C0 and C1 controls), less the whitespace ones text files hold.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# A valid UTF-8 multi-byte sequence. Bytes whose non-ASCII part is mostly such sequences but that fail to
# decode are broken UTF-8, not another encoding to guess (text in an 8-bit encoding holds them only by
# chance: a cp1251 capital before "»" is one).
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_ASCII = bytes(range(128))
# Lone surrogates: what Python makes of undecodable bytes in file names, and of "\\ud800" in JSON.
_SURROGATES = re.compile("[\ud800-\udfff]")
# Byte-order marks, longest first (the UTF-32-LE mark starts with the UTF-16-LE one).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Among encodings the detector scores equally (Latin text fits cp1250, cp1252 and a dozen others just as
# well), the most common ones win, in this order.
_PREFERRED = ("utf_8", "cp1252", "iso8859_1")
# How much of a line-oriented file (JSONL, CSV) decides its encoding.
ENCODING_SAMPLE_BYTES = 1 << 16

EMPTY_FILE = "empty file"
HIDDEN = "hidden file or folder (name starts with a dot)"
BAD_NAME = "file name is not valid UTF-8"
FOLDER = "folder matched by source.pattern (not a file)"
BROKEN_LINK = "broken symbolic link"
OUTSIDE = "symbolic link leading outside source.path"
BINARY = "binary content (NUL bytes)"
UNMATCHED = "file not matched by source.pattern"


@dataclass
class Scan:
    """What `source.pattern` matched: the regular files to read, and the other entries, rejected."""
    files: list[Path] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)


def scan(source: SourceConfig) -> Scan:
    """`source.path` itself when it is a file, else every entry under it matching `source.pattern`, sorted.

    Nothing is opened here: entries are told apart by stat(), so a FIFO cannot block the build.
    """
    if source.path is None:
        raise DataError(f"source.path: required for kind {source.kind!r}; set it to a file or a directory")
    root = Path(source.path).expanduser()
    if not _utf8_name(root):
        raise DataError(f"source.path: {printable(root)} is not a valid UTF-8 path; rename it or link to it")
    if root.is_dir():
        return _scan_dir(root, source.pattern)
    if root.is_file():
        return Scan([root])
    if root.exists():
        raise DataError(f"source.path: {root} is a {_kind(root.stat().st_mode)}, not a file or a directory; "
                        "set source.path to a file or a directory")
    raise DataError(f"source.path: {root} does not exist; set source.path to a file or a directory")


def list_files(source: SourceConfig) -> list[Path]:
    """The regular files `scan` finds (what the manifest checksums)."""
    return scan(source).files


def _scan_dir(root: Path, pattern: str) -> Scan:
    real_root = os.path.realpath(root)
    inside = _Inside(real_root)
    n_root = len(root.parts)
    rejected_hidden: set[tuple[str, ...]] = set()
    out = Scan()
    for path in sorted(root.glob(pattern)):
        parts = path.parts[n_root:]                 # below source.path
        if _SURROGATES.search("/".join(parts)):     # a name that could not be written to rejects.jsonl or be an id
            out.rejects.append(Rejected(printable(path), BAD_NAME))
        elif any(part.startswith(".") for part in parts):
            # inside a hidden folder that was itself rejected: counted once, with that folder
            if not any(parts[:k] in rejected_hidden for k in range(1, len(parts))):
                rejected_hidden.add(parts)
                out.rejects.append(Rejected(str(path), HIDDEN))
        elif (reason := _entry_problem(path, inside)) is None:
            out.files.append(path)
        else:
            out.rejects.append(Rejected(str(path), reason))
    if not out.files:
        found = f" (it matched {len(out.rejects)} entries that are not files to read)" if out.rejects else ""
        raise DataError(f"{root}: no files match source.pattern {pattern!r}{found}; set source.pattern")
    out.rejects += _unmatched(root, pattern, matched={*out.files, *(Path(r.input) for r in out.rejects)})
    return out


def _unmatched(root: Path, pattern: str, matched: set[Path]) -> list[Rejected]:
    """The regular files below `root` that `pattern` leaves out (an .html page among `**/*.txt` pages), so each
    is accounted for as rejected rather than silently skipped. Hidden files and folders (.git, .DS_Store) are
    not inputs a user put there and stay out."""
    n_root = len(root.parts)
    out = []
    for path in sorted(root.rglob("*")):
        parts = path.parts[n_root:]
        if path in matched or any(part.startswith(".") for part in parts) or _SURROGATES.search("/".join(parts)):
            continue
        try:
            regular = stat.S_ISREG(path.lstat().st_mode)
        except OSError:
            continue
        if regular:
            out.append(Rejected(str(path), f"{UNMATCHED} {pattern!r} (widen source.pattern to read it; an .html "
                                           "page is read by source.kind html)"))
    return out


def _utf8_name(path: Path) -> bool:
    """Python keeps undecodable bytes of a file name as lone surrogates ('surrogateescape')."""
    return not _SURROGATES.search(str(path))


def printable(path: Path | str) -> str:
    """`path` with the bytes of a non-UTF-8 name shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class _Inside:
    """Whether a listed path really lies inside source.path, following links (of the entry itself,
    or of a folder above it); each folder is resolved once."""

    def __init__(self, real_root: str):
        self.prefix = real_root.rstrip(os.sep) + os.sep
        self.real_root = real_root
        self.folders: dict[Path, str] = {}

    def __call__(self, path: Path, is_link: bool) -> bool:
        if is_link:
            real = os.path.realpath(path)
        else:
            folder = self.folders.get(path.parent)
            if folder is None:
                folder = self.folders[path.parent] = os.path.realpath(path.parent)
            real = os.path.join(folder, path.name)
        return real == self.real_root or real.startswith(self.prefix)


def _entry_problem(path: Path, inside: _Inside) -> str | None:
    """Why `path` is not a file to read, or None when it is one. Only stat() calls: nothing is opened."""
    try:
        mode = os.lstat(path).st_mode
        is_link = stat.S_ISLNK(mode)
        if not inside(path, is_link):
            return OUTSIDE
        if is_link:
            mode = os.stat(path).st_mode    # the target
    except FileNotFoundError:
        return BROKEN_LINK if path.is_symlink() else unreadable(FileNotFoundError(errno.ENOENT, "vanished"))
    except OSError as exc:                  # ELOOP: a link loop
        return unreadable(exc)
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return FOLDER
    return f"not a regular file ({_kind(mode)})"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def unreadable(exc: OSError) -> str:
    """Reject reason for a file the OS would not read: `unreadable file (EIO: Input/output error)`."""
    code = errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno else type(exc).__name__
    return f"unreadable file ({code}: {exc.strerror or exc})"


def read_file(path: Path) -> tuple[bytes | None, str | None]:
    """(bytes, None), or (None, reject reason) when the OS fails to read the file."""
    try:
        return path.read_bytes(), None
    except OSError as exc:
        return None, unreadable(exc)


def read_text(path: Path, encoding: str) -> tuple[str | None, str | None]:
    """(text, None), or (None, reject reason) for a file that cannot be read or decoded."""
    data, reason = read_file(path)
    return (None, reason) if data is None else decode_text(data, encoding)


# ---- decoding ------------------------------------------------------------------------------------
def check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"source.encoding: unknown encoding {encoding!r}; use e.g. utf-8, cp1252, latin-1") from None


def bom_encoding(data: bytes) -> str | None:
    """The codec a byte-order mark at the start of `data` names (it strips the mark), or None."""
    return next((codec for bom, codec in _BOMS if data.startswith(bom)), None)


def decode_text(data: bytes, encoding: str = "utf-8", declared: str | None = None) -> tuple[str | None, str | None]:
    """Return (text, None), or (None, reject reason) for empty, binary or undecodable bytes.

    Order: the byte-order mark (final: bytes that contradict it are rejected); the charset the document
    declares (HTML); `encoding`; then the encoding charset-normalizer detects. A candidate counts only
    when it decodes strictly into text (see looks_binary). Bytes that are broken UTF-8 (they hold valid
    UTF-8 sequences) are rejected rather than guessed at, since a guess would turn every accented
    letter into mojibake.
    """
    if not data.strip():
        return None, EMPTY_FILE
    bom = bom_encoding(data)
    candidates = [bom] if bom else [declared, check_encoding(encoding)]
    tried, binary = [], None
    for codec in dict.fromkeys(c for c in candidates if c):
        text = _decode(data, codec)
        binary = looks_binary(text) if text is not None else binary
        if text is not None and binary is None:
            return _non_empty(text)
        tried.append(codec)
    if bom:
        return None, binary or f"undecodable bytes (they do not match their {bom} byte-order mark)"
    if binary is not None and b"\x00" not in data:   # text of control characters: no encoding helps
        return None, binary
    utf8_error = _utf8_error(data) if is_utf8(check_encoding(encoding)) else None
    if utf8_error is not None and mostly_utf8(data):
        return None, f"undecodable bytes (invalid UTF-8 at byte {utf8_error}; the rest is UTF-8)"
    detected = detect_encoding(data)
    if detected is not None:
        text = _decode(data, detected)
        if text is not None and looks_binary(text) is None:
            return _non_empty(text)
    if b"\x00" in data:
        return None, BINARY
    return None, f"undecodable bytes (not {' or '.join(tried)}, and no other encoding detected)"


def _non_empty(text: str) -> tuple[str | None, str | None]:
    text = text.lstrip("\ufeff")
    return (text, None) if text.strip() else (None, EMPTY_FILE)


def _decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError):   # UnicodeError: the UTF-16 decoder on a cut head
        return None


def _utf8_error(data: bytes) -> int | None:
    """Offset of the first byte that is not UTF-8, or None when all of `data` is."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def mostly_utf8(data: bytes) -> bool:
    """Whether at least half of the non-ASCII bytes of `data` form valid UTF-8 sequences."""
    non_ascii = len(data.translate(None, _ASCII))
    return non_ascii > 0 and sum(map(len, _UTF8_MULTIBYTE.findall(data))) >= non_ascii / 2


def is_utf8(codec: str) -> bool:
    return codecs.lookup(codec).name in ("utf-8", "utf-8-sig")


def has_lone_surrogate(text: str) -> bool:
    """Text with a lone surrogate (JSON's "\\ud800") cannot be written as UTF-8."""
    return not text.isascii() and _SURROGATES.search(text) is not None


def looks_binary(text: str, any_nul: bool = True) -> str | None:
    """The reject reason when decoded text is binary (a NUL, or over 1% control characters), else None.

    `any_nul=False` judges the head of a line-oriented file, where a NUL is one row's problem (that row
    is rejected) and only a share of control characters over 1% makes the whole file binary."""
    if any_nul and "\x00" in text:
        return BINARY
    if len(_CONTROLS.findall(text)) > _MAX_CONTROL_SHARE * max(len(text), 1):
        return BINARY if "\x00" in text else "binary content (control characters)"
    return None


def detect_encoding(data: bytes) -> str | None:
    """charset-normalizer's best encoding for `data`, ties going to utf-8, cp1252, latin-1; None if none fits.

    Only plausible candidates count: UTF-16/32 (without a byte-order mark) for bytes with NULs, which
    text in any other encoding never holds, and any other encoding for bytes without (the detector
    otherwise reads short Latin text as UTF-16 "CJK").
    """
    from charset_normalizer import from_bytes

    wide = b"\x00" in data
    matches = [m for m in from_bytes(data) if m.encoding.startswith(("utf_16", "utf_32")) == wide]
    if not matches:
        return None
    best = matches[0]
    tied = [m for m in matches if (round(m.chaos, 3), round(m.coherence, 3)) == (round(best.chaos, 3),
                                                                             round(best.coherence, 3))]
    for preferred in _PREFERRED:
        if any(preferred in m.could_be_from_charset for m in tied):
            return preferred
    return best.encoding


def line_encoding(head: bytes, encoding: str, complete: bool) -> tuple[str | None, str | None]:
    """The encoding of a line-oriented file (JSONL, CSV) from its first bytes: (codec, None) or (None, reason).

    As decode_text, with one difference: a head that is UTF-8 with a few broken lines stays UTF-8, so
    that only those lines are rejected. `complete`: `head` is the whole file.
    """
    if not head.strip():
        return None, EMPTY_FILE
    bom = bom_encoding(head)
    if bom:
        return bom, None
    configured = check_encoding(encoding)
    text = _decode_head(head, configured, complete)
    binary = looks_binary(text, any_nul=False) if text is not None else None
    if text is not None and binary is None:
        return configured, None
    if binary is not None and b"\x00" not in head:   # control characters: no encoding helps
        return None, binary
    if text is None and is_utf8(configured) and mostly_utf8(head):
        return configured, None
    detected = detect_encoding(head)
    if detected is not None:
        text = _decode_head(head, detected, complete)
        if text is not None and looks_binary(text, any_nul=False) is None:
            return detected, None
    if b"\x00" in head:
        return None, BINARY
    return None, f"undecodable bytes (not {configured}, and no other encoding detected)"


def _decode_head(data: bytes, codec: str, complete: bool) -> str | None:
    """`data` decoded strictly; a sequence cut off at the end of a partial head is fine."""
    try:
        return codecs.getincrementaldecoder(codec)().decode(data, final=complete)
    except (UnicodeError, LookupError):   # UnicodeError: the UTF-16 decoder on a cut head
        return None


def splits_on_newline_byte(codec: str) -> bool:
    """Whether the byte 0x0A always is a line break in `codec` (not in UTF-16/32 or UTF-7)."""
    name = codecs.lookup(codec).name
    return not name.startswith(("utf-16", "utf-32", "utf-7"))
