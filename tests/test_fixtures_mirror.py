"""The real-data fixtures (tests/conftest.py): a skip where no mirror is configured, a failure where
$TRAINER_DATA_MIRROR is set but the data is not there, so CI cannot pass by skipping real-data tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MIRROR_ENV, find_mirror, missing_data

REAL_DATA_TEST = """
def test_archive(reuters_archive):
    assert reuters_archive.is_file()

def test_sample(scraped_sample_dir):
    assert scraped_sample_dir.is_dir()
"""


def test_find_mirror_uses_the_variable_without_falling_back(tmp_path):
    fallback = tmp_path / "shared"
    fallback.mkdir()
    assert find_mirror({MIRROR_ENV: str(tmp_path)}, fallback) == tmp_path
    assert find_mirror({MIRROR_ENV: str(tmp_path / "typo")}, fallback) is None   # not the fallback
    assert find_mirror({}, fallback) == fallback
    assert find_mirror({}, tmp_path / "absent") is None


def test_missing_data_fails_when_the_mirror_variable_is_set():
    with pytest.raises(pytest.fail.Exception, match=f"{MIRROR_ENV}=/x is set"):
        missing_data("archive absent", {MIRROR_ENV: "/x"})
    with pytest.raises(pytest.skip.Exception, match="archive absent"):
        missing_data("archive absent", {})


@pytest.fixture
def fixture_run(pytester, monkeypatch):
    """Run REAL_DATA_TEST under a copy of the real conftest.py, with the given mirror variable."""
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_real_data=REAL_DATA_TEST)

    def run(mirror: str | None):
        if mirror is None:
            monkeypatch.delenv(MIRROR_ENV, raising=False)
        else:
            monkeypatch.setenv(MIRROR_ENV, mirror)
        # plugins off: pytester restores sys.modules after each run, so each run would import them anew
        return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:anyio")
    return run


def test_real_data_fixtures_fail_on_a_set_but_empty_mirror(fixture_run, tmp_path):
    (tmp_path / "empty-mirror").mkdir()
    fixture_run(str(tmp_path / "empty-mirror")).assert_outcomes(errors=2)


def test_real_data_fixtures_fail_on_a_mirror_variable_naming_no_folder(fixture_run, tmp_path):
    fixture_run(str(tmp_path / "no-such-folder")).assert_outcomes(errors=2)


def test_real_data_fixtures_skip_without_a_mirror(fixture_run):
    # the copied conftest's fallback (beside pytester's temporary checkout) does not exist
    fixture_run(None).assert_outcomes(skipped=2)


def test_real_data_fixtures_pass_on_the_real_mirror(fixture_run, mirror_dir):
    fixture_run(str(mirror_dir)).assert_outcomes(passed=2)
