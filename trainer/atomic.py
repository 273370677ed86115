"""Atomic file and directory writes: readers never see a half-written output.

Each output is written to a temporary sibling, `.NAME.tmp-HOST-PID-TOKEN`, then renamed over NAME.
The temporary name carries the writer's host and process id, so a later write can tell the leftovers
of a killed writer (a process of this host that no longer exists) from the work of a live one, and
removes only the former. A directory replace swaps NAME out to `.NAME.old-HOST-PID-TOKEN` and the new
directory in, under an exclusive lock (`fcntl.flock` on `.NAME.lock`, removed after use), so two
processes replacing the same directory take turns instead of failing.

Files and directories are created with mode 0666 / 0777 less the process umask (0644 / 0755 under the
usual umask 022), like any other file a program writes: tempfile's 0600 / 0700 would hide a shared
dataset or run directory from the rest of the group.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: no lock, the swap is as safe as the platform's rename
    fcntl = None

# host names may hold anything; keep the leftover names plain
_HOST = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "host"
_LEFTOVER = re.compile(r"(?P<kind>tmp|old)-(?P<host>.+)-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})")


def leftover_name(name: str, kind: str, pid: int | None = None) -> str:
    """`.NAME.KIND-HOST-PID-TOKEN`: a new, unique name for a temporary (`tmp`) or replaced (`old`) sibling."""
    return f".{name}.{kind}-{_HOST}-{os.getpid() if pid is None else pid}-{secrets.token_hex(4)}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)        # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:            # EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale(parent: Path, name: str) -> list[Path]:
    """Remove the `.NAME.tmp-*` / `.NAME.old-*` siblings left by dead processes of this host; return them.

    A leftover of a live process, of another host (a shared file system), or in any other naming is
    never touched.
    """
    removed = []
    prefix = f".{name}."
    with os.scandir(parent) as entries:
        for entry in entries:
            match = _LEFTOVER.fullmatch(entry.name[len(prefix):]) if entry.name.startswith(prefix) else None
            if match is None or match["host"] != _HOST:
                continue
            pid = int(match["pid"])
            if pid != os.getpid() and not _alive(pid):
                _remove(Path(entry.path))
                removed.append(Path(entry.path))
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def _locked(lock: Path) -> Iterator[None]:
    """Hold an exclusive flock on `lock`; the file is removed on release, so no lock file stays behind.

    Removing a lock file is safe only if a waiter notices: whoever gets the lock checks that the path
    still names the file it locked, and starts over when it does not.
    """
    if fcntl is None:
        yield
        return
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break
        except FileNotFoundError:   # removed by the holder before us
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)                # releases the lock


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces `final`, on error it is removed.

    `final` is replaced whatever it holds: callers that must not replace foreign content check first
    (see trainer.data.build.check_output).
    """
    final = Path(final)
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale(parent, final.name)
    tmp = parent / leftover_name(final.name, "tmp")
    os.mkdir(tmp, 0o777)    # the umask applies
    try:
        yield tmp
        old = _swap_in(tmp, final)
    except BaseException:
        _remove(tmp)
        raise
    if old is not None:     # outside the lock; if this process dies here, the next writer removes it
        _remove(old)


def _swap_in(tmp: Path, final: Path) -> Path | None:
    """Rename `tmp` to `final`, moving a previous `final` aside first; return where it went."""
    with _locked(final.parent / f".{final.name}.lock"):
        old = None
        if final.exists() or final.is_symlink():
            old = final.parent / leftover_name(final.name, "old")
            os.replace(final, old)
        try:
            os.replace(tmp, final)
        except BaseException:
            if old is not None:
                os.replace(old, final)   # put the previous output back
            raise
    return old


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write bytes to a temp file in the same directory, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, path.name)
    tmp = path.parent / leftover_name(path.name, "tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically (see atomic_write_bytes)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, rows) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))
