"""The FILES of `trainer predict`: article files, folders of them, or `-` (stdin).

A folder is listed as `trainer data build` lists `source.path` (every entry below it, sorted, under the build's
reader policy: hidden files and folders, links leading out of it and entries that are not regular files are
not read; subfolders are walked); each file left out becomes a `{"path", "error"}` record, so every entry is
accounted for.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Sequence

from trainer.errors import DataError, TrainerError

FOLDER_PATTERN = "**/*"    # the build's default source.pattern: everything below the folder


def expand_files(names: Sequence[str]) -> tuple[list[str], list[dict]]:
    """(files to read in order, with `-` kept; records of the entries of folders that are not read)."""
    from trainer.data.config import SourceConfig
    from trainer.data.readers.files import FOLDER, scan
    files, skipped = [], []
    for name in names:
        path = Path(name)
        if name == "-" or path.is_file():
            files.append(name)
        elif path.is_dir():
            try:
                found = scan(SourceConfig(kind="scraped", path=str(path), pattern=FOLDER_PATTERN))
            except DataError:
                raise DataError(f"{name}: a folder with no files to read in it; give article files or a folder "
                                "holding them") from None
            files += [str(f) for f in found.files]
            # a subfolder is listed by the glob too; its files are the inputs
            skipped += [{"path": r.input, "error": r.reason} for r in found.rejects if r.reason != FOLDER]
        else:
            raise TrainerError(f"{name if len(name) <= 80 else name[:77] + '...'}: no such file or folder"
                               + _hint(name))
    return files, skipped


def _hint(name: str) -> str:
    if " " in name or len(name) > 80:
        return f"; to label this text itself use --text {shlex.quote(name)}"
    return "; give article files or folders, or a text with --text \"...\""
