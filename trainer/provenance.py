"""Where an output came from: the time, the package versions, the source commit, the host and process."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("trainer", "torch", "transformers", "datasets", "evaluate", "accelerate", "scikit-learn", "numpy")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_sha(where: Path | None = None) -> str | None:
    """Commit of the source tree `trainer` runs from (None outside a git checkout); '+dirty' when modified."""
    where = where or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}+dirty" if dirty else sha


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def process() -> dict:
    """This process, as meta.json records it so a later command can tell a live run from a dead one."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def process_alive(pid: int | None, host: str | None) -> bool | None:
    """True/False for a process of this host; None when it ran elsewhere (cannot tell)."""
    if pid is None or host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # alive, owned by someone else
        return True
    return True
