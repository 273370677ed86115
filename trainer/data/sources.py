"""Find a named remote dataset file: explicit path, then a mirror directory, then a checksummed download.

Machines without internet point `source.path` or the mirror variable (TRAINER_DATA_MIRROR) at a copy;
only when neither has the file is the canonical URL tried, and offline that fails within seconds.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from trainer.data.config import SourceConfig
from trainer.errors import DataError

log = logging.getLogger(__name__)

CACHE_ENV = "TRAINER_CACHE"
CONNECT_TIMEOUT_S = 10.0   # offline machines must fail fast, not hang on a dead route


@dataclass(frozen=True)
class RemoteFile:
    url: str
    sha256: tuple[str, ...]        # every accepted checksum (original and known repacks)
    members: str | None = None     # glob of the extracted files, so an unpacked folder also works


REGISTRY: dict[str, RemoteFile] = {
    "reuters21578.tar.gz": RemoteFile(
        url="https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz",
        sha256=(
            # the UCI archive (8,150,596 bytes), as recorded by huggingface/datasets' reuters21578 script
            "3bae43c9b14e387f76a61b6d82bf98a4fb5d3ef99ef7e7075ff2ccbcf59f9d30",
            # the offline mirror's repack (same member files, different tar/gzip container)
            "dd7bd6b3f9e727b77e990d009b5de8080addc0d59c00a0d8c68c72c07fc490ce",
        ),
        members="reut2-*.sgm",
    ),
}


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large inputs never sit in memory whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "trainer"


def locate(filename: str, source: SourceConfig, url: str | None = None,
           sha256: str | Iterable[str] | None = None) -> Path:
    """Path of `filename` (or of a folder holding its extracted members) for `source`.

    Order: `source.path`, the mirror directory named by `$<source.mirror_env>`, the download cache,
    then (if `source.download`) a checksummed download of `url`. `url`/`sha256` default to REGISTRY.
    An explicit `source.path` is trusted as is: it is the way around a checksum the user knows is fine.
    """
    known = REGISTRY.get(filename)
    url = url or (known.url if known else None)
    accepted = _accepted(sha256, known)
    members = known.members if known else None
    hint = _hint(filename, source)

    if source.path:
        return _explicit(Path(source.path).expanduser(), filename, members)
    mirrored = _from_mirror(filename, source, accepted, members)
    if mirrored is not None:
        return mirrored
    cached = cache_dir() / filename
    if cached.is_file() and _checksum_ok(cached, accepted):
        return cached
    if not source.download:
        raise DataError(f"{filename} not found and source.download is false: {hint}")
    if url is None:
        raise DataError(f"{filename}: no download URL known: {hint}")
    return download(url, cached, accepted, hint)


def download(url: str, dest: Path, accepted: tuple[str, ...], hint: str = "") -> Path:
    """Fetch `url` to `dest` atomically: stream to a temp file, verify its sha256, then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s to %s", url, dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.part-", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response:
                    shutil.copyfileobj(response, out, 1 << 20)
            except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections are OSErrors
                raise DataError(f"cannot download {url} ({_reason(exc)}); offline? {hint}") from None
        digest = sha256_file(tmp)
        if accepted and digest not in accepted:
            raise DataError(f"{url}: downloaded file has sha256 {digest}, expected one of "
                            f"{', '.join(accepted)}; the file may be corrupt or changed upstream: {hint}")
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return dest


def _explicit(path: Path, filename: str, members: str | None) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        if (path / filename).is_file():
            return path / filename
        if members and any(path.glob(members)):
            return path
        expected = f"{filename}" + (f" or extracted {members} files" if members else "")
        raise DataError(f"source.path {path}: folder holds no {expected}")
    raise DataError(f"source.path {path}: no such file or folder")


def _from_mirror(filename: str, source: SourceConfig, accepted: tuple[str, ...],
                 members: str | None) -> Path | None:
    mirror = os.environ.get(source.mirror_env)
    if not mirror:
        return None
    root = Path(mirror).expanduser()
    if not root.is_dir():
        raise DataError(f"{source.mirror_env}={mirror} is not a folder; point it at a folder holding "
                        f"{filename}, or unset it")
    candidate = root / filename
    if candidate.is_file():
        if not _checksum_ok(candidate, accepted):
            raise DataError(f"{candidate} (from {source.mirror_env}) has sha256 {sha256_file(candidate)}, "
                            f"not a known checksum of {filename}; if you trust this copy set "
                            f"source.path={candidate} to use it without the check")
        return candidate
    if members and any(root.glob(members)):
        return root
    return None


def _checksum_ok(path: Path, accepted: tuple[str, ...]) -> bool:
    return not accepted or sha256_file(path) in accepted


def _accepted(sha256: str | Iterable[str] | None, known: RemoteFile | None) -> tuple[str, ...]:
    if sha256 is None:
        return known.sha256 if known else ()
    if isinstance(sha256, str):
        return (sha256.lower(),)
    return tuple(s.lower() for s in sha256)


def _hint(filename: str, source: SourceConfig) -> str:
    return f"set {source.mirror_env}=/dir/with/{filename} or source.path"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc) or type(exc).__name__
