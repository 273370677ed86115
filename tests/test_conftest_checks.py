"""The suite's own guards (tests/conftest.py), run in a pytest of their own under a copy of the real conftest:
a unit test that trains fails, and with TRAINER_NO_SKIPS (the CI slow run) a skip fails the session."""
from __future__ import annotations

from pathlib import Path

import pytest

# imported here, before pytester's runs: it restores sys.modules after each, and numpy cannot be imported twice
import trainer.models.base  # noqa: F401

TESTS = '''
import pytest
from trainer.models.base import FitContext


def test_unit_that_trains():
    FitContext(None, None, None)


@pytest.mark.integration
def test_integration_that_trains():
    FitContext(None, None, None)


def test_skipped():
    pytest.skip("a tool is missing")
'''


@pytest.fixture
def inner(pytester, monkeypatch):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_guards=TESTS)

    def run(no_skips: bool):
        if no_skips:
            monkeypatch.setenv("TRAINER_NO_SKIPS", "1")
        else:
            monkeypatch.delenv("TRAINER_NO_SKIPS", raising=False)
        return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:anyio")
    return run


@pytest.mark.integration   # the inner tests construct a FitContext, which the outer guard would refuse too
def test_conftest_unit_test_that_trains_fails_naming_the_fix(inner):
    result = inner(no_skips=False)
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*test_unit_that_trains trains a model but is not an integration test*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_conftest_no_skips_turns_a_skip_into_a_failed_session(inner, pytester):
    pytester.makepyfile(test_guards="import pytest\n\ndef test_skipped():\n    pytest.skip('a tool is missing')\n")
    result = inner(no_skips=True)      # without the variable the same session passes (exit 0 with one skip)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*TRAINER_NO_SKIPS is set and 1 tests skipped*test_skipped*"])
