"""Atomic writes (trainer/atomic.py): the usual permissions, concurrent replacers, killed writers."""
from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trainer.atomic import atomic_dir, atomic_write_bytes, atomic_write_json

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_atomic_outputs_get_the_permissions_of_the_umask(tmp_path, mask, file_mode, dir_mode):
    with umask(mask):
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        atomic_write_json(tmp_path / "b.json", {"a": 1})
        with atomic_dir(tmp_path / "ds") as tmp:
            atomic_write_json(tmp / "manifest.json", {})
    assert _mode(tmp_path / "a.bin") == _mode(tmp_path / "b.json") == file_mode
    assert _mode(tmp_path / "ds") == dir_mode
    assert _mode(tmp_path / "ds" / "manifest.json") == file_mode


def test_atomic_dir_replaces_and_leaves_nothing_beside(tmp_path):
    for content in ("first", "second"):
        with atomic_dir(tmp_path / "ds") as tmp:
            (tmp / "f").write_text(content)
    assert (tmp_path / "ds" / "f").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_atomic_dir_error_keeps_the_old_output(tmp_path):
    with atomic_dir(tmp_path / "ds") as tmp:
        (tmp / "f").write_text("old")
    with pytest.raises(ZeroDivisionError), atomic_dir(tmp_path / "ds") as tmp:
        (tmp / "f").write_text("half")
        1 / 0
    assert (tmp_path / "ds" / "f").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


# A child process that replaces DIR `n` times, each time with a complete two-file directory,
# starting when told (a line on stdin) so that both children really run at the same time.
REPLACER = textwrap.dedent("""
    import os, sys
    from trainer.atomic import atomic_dir
    final, n = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(n):
        with atomic_dir(final) as tmp:
            (tmp / "who").write_text(f"{os.getpid()} {i}")
            (tmp / "done").write_text("yes")
""")

# A child that starts a replacement, says so, then waits for a line on stdin before finishing it.
HOLDER = textwrap.dedent("""
    import sys
    from trainer.atomic import atomic_dir
    with atomic_dir(sys.argv[1]) as tmp:
        (tmp / "who").write_text("holder")
        print(tmp.name, flush=True)
        sys.stdin.readline()
""")


def _child(code: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, text=True, **kw)


def test_atomic_dir_two_processes_replacing_the_same_dir(tmp_path):
    """A real two-process stress loop: every replacement succeeds and nothing is left beside DIR
    (the unlocked version failed about 7% of replacements with ENOTEMPTY / FileNotFoundError)."""
    final = tmp_path / "ds"
    children = [_child(REPLACER, final, 500, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(2)]
    assert [c.stdout.readline() for c in children] == ["ready\n"] * 2
    for c in children:
        c.stdin.write("go\n")
        c.stdin.flush()
    errors = [c.communicate(timeout=120)[1] for c in children]
    assert [c.returncode for c in children] == [0, 0], errors
    assert (final / "done").read_text() == "yes" and (final / "who").read_text().endswith(" 499")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_atomic_dir_removes_what_a_killed_writer_left(tmp_path):
    final = tmp_path / "ds"
    child = _child(HOLDER, final, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    temp_name = child.stdout.readline().strip()
    assert (tmp_path / temp_name).is_dir()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    with atomic_dir(final) as tmp:
        (tmp / "who").write_text("me")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert (final / "who").read_text() == "me"


def test_atomic_dir_keeps_a_live_writers_temp_dir(tmp_path):
    final = tmp_path / "ds"
    child = _child(HOLDER, final, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        temp_name = child.stdout.readline().strip()
        with atomic_dir(final) as tmp:
            (tmp / "who").write_text("me")
        assert (tmp_path / temp_name).is_dir()      # still being written by a live process
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
    assert (final / "who").read_text() == "holder"   # the later replacement wins, complete
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_atomic_dir_removes_a_dead_processes_old_dir(tmp_path):
    """An interrupted swap leaves `.NAME.old-...` of a process that is gone: the next replace removes it."""
    from trainer.atomic import leftover_name
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / leftover_name("ds", "old", pid=dead.pid)
    stale.mkdir()
    (stale / "f").write_text("previous dataset")
    mine = tmp_path / leftover_name("ds", "tmp", pid=os.getpid())   # this process is alive: kept
    mine.mkdir()
    unrelated = tmp_path / ".ds.tmp-by-someone-else"                  # not our naming: never touched
    unrelated.mkdir()
    with atomic_dir(tmp_path / "ds") as tmp:
        (tmp / "f").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".ds.tmp-by-someone-else", mine.name, "ds"])
    stale_file = tmp_path / leftover_name("m.json", "tmp", pid=dead.pid)   # a killed atomic_write_json
    stale_file.write_text('{"half": ')
    atomic_write_json(tmp_path / "m.json", {})
    assert not stale_file.exists()
