"""`trainer predict --output OUT`, resumable: rows go to OUT.partial as they are scored, OUT appears (renamed,
atomically) only when every input is answered.

Beside the partial file, OUT.partial.json fingerprints what the rows depend on (the model's files, the inputs, the
options that change rows). A rerun after a kill finds both, checks the fingerprint, drops a half-written last
line and continues after the rows already written: the rows come in a fixed order, so their count says where
to go on. A different run is refused (--restart starts over); so is an OUT that exists (--overwrite), and a
partial file without its fingerprint (trainer predict did not write it).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

from trainer import contracts
from trainer.atomic import atomic_write_json
from trainer.errors import TrainerError

PARTIAL_SUFFIX = ".partial"
FINGERPRINT_SUFFIX = ".partial.json"
_CHUNK = 1 << 20


def fingerprint(run_dir: Path, files: Sequence[str], jsonl: str | None, texts: Sequence[str],
                not_read: Sequence[dict], options: dict) -> dict:
    """What the rows of OUT depend on, small: the model's files (name, size, mtime), the inputs (each file's
    path, size and mtime; the texts; stdin marked as such) and the options that change rows."""
    model_dir = contracts.model_dir_of(run_dir)
    model = hashlib.sha256(str(model_dir.resolve()).encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        st = path.stat()
        model.update(f"\0{path.relative_to(model_dir)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    inputs = hashlib.sha256()
    stdin = "-" in files or jsonl == "-"
    for name in [*files, *([jsonl] if jsonl not in (None, "-") else [])]:
        if name == "-":
            inputs.update(b"\0-")
            continue
        st = os.stat(name)
        inputs.update(f"\0{os.path.abspath(name)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    inputs.update(json.dumps([list(texts), jsonl is not None, list(not_read)], sort_keys=True).encode())
    return {"model": model.hexdigest(), "inputs": inputs.hexdigest(), "stdin": stdin, "options": options}


class ResumableOutput:
    """OUT written row by row through OUT.partial (see the module docstring)."""

    def __init__(self, out: Path, print_: dict, overwrite: bool = False, restart: bool = False):
        self.out = Path(out)
        self.partial = self.out.with_name(self.out.name + PARTIAL_SUFFIX)
        self.sidecar = self.out.with_name(self.out.name + FINGERPRINT_SUFFIX)
        self.print_ = print_
        self.overwrite, self.restart = overwrite, restart
        self.rows = 0
        self._fh = None

    def open(self) -> int:
        """Prepare OUT.partial; the number of rows it already holds (0 for a fresh start)."""
        out = self.out
        if out.is_dir():
            raise TrainerError(f"--output {out}: a folder; give a file name")
        if out.exists() and not self.overwrite:
            raise TrainerError(f"--output {out} exists; give --overwrite to replace it, or another --output")
        if not self.sidecar.is_file():
            if self.partial.exists():
                raise TrainerError(f"{self.partial} exists and trainer predict did not write it (no {self.sidecar.name}); "
                                   "move it away or give another --output")
            return self._fresh()
        if self.restart:
            self.partial.unlink(missing_ok=True)
            return self._fresh()
        try:
            before = json.loads(self.sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            before = None
        if not self.partial.exists():
            return self._fresh()
        if before != self.print_:
            what = ("unreadable" if not isinstance(before, dict) else
                    ", ".join(k for k in self.print_ if before.get(k) != self.print_[k]) or "format")
            raise TrainerError(f"{self.partial} was started by another run (different {what}); rerun with the same "
                               "model, inputs and options to continue it, or add --restart to start over")
        if self.print_["stdin"]:
            raise TrainerError(f"{self.partial}: the inputs include stdin, which a rerun cannot check; "
                               "add --restart to start over")
        self.rows = _keep_whole_lines(self.partial)
        self._fh = open(self.partial, "ab")
        return self.rows

    def _fresh(self) -> int:
        # the fingerprint first: a partial file without one is not ours, and is never touched
        atomic_write_json(self.sidecar, self.print_)
        self._fh = open(self.partial, "wb")
        self.rows = 0
        return 0

    def write(self, lines: Sequence[str]) -> None:
        """Append rows (each a line ending in a newline), flushed to the OS: a kill loses none of them."""
        if lines:
            self._fh.write("".join(lines).encode("utf-8"))
            self._fh.flush()
            self.rows += len(lines)

    def finish(self) -> None:
        """Every row written: OUT.partial becomes OUT (atomically) and the fingerprint goes."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.partial, self.out)
        self.sidecar.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop without finishing (an error): the partial file stays for a rerun."""
        if self._fh is not None and not self._fh.closed:
            self._fh.close()


def _keep_whole_lines(path: Path) -> int:
    """Cut a half-written last line off `path`; the number of whole lines left."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        end = size
        while end > 0:   # find the last newline from the end
            start = max(0, end - _CHUNK)
            fh.seek(start)
            block = fh.read(end - start)
            at = block.rfind(b"\n")
            if at >= 0:
                end = start + at + 1
                break
            end = start
        if end != size:
            fh.truncate(end)
        fh.seek(0)
        lines, done = 0, 0
        while done < end:
            block = fh.read(min(_CHUNK, end - done))
            lines += block.count(b"\n")
            done += len(block)
    return lines
