"""`trainer serve`'s page in a real headless browser (Debian chromium driven by Playwright): it loads with the
run's name and labels, an empty submit shows an error instead of the previous answer, a text and a saved page
get the labels the API gives, and a two-target model shows both targets. Screenshots go to the test's temporary
folder, or to $TRAINER_ARTIFACTS/browser/ when that is set (to keep them).

Playwright is in the dev extra and CI installs Debian's chromium, so a missing one fails the test, naming it."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow   # starts a browser: `make test-slow`, or `python -m pytest -m slow tests/test_browser.py`

@pytest.fixture(scope="module")
def check():
    if importlib.util.find_spec("playwright") is None:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'", pytrace=False)
    from trainer.verification import serve_page as module
    if not Path(module.CHROMIUM).is_file():
        pytest.fail(f"{module.CHROMIUM} absent: apt-get install chromium (or set TRAINER_CHROMIUM)", pytrace=False)
    return module


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """Where the screenshots go: never into the checkout unless asked ($TRAINER_ARTIFACTS)."""
    keep = os.environ.get("TRAINER_ARTIFACTS")
    folder = Path(keep) / "browser" if keep else tmp_path_factory.mktemp("browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_browser_page_labels_an_article_like_the_api(check, artifacts, tiny_run_dir, tmp_path):
    from trainer.serving.http import create_app
    from trainer.serving.predictor import Predictor
    page_file = tmp_path / "saved.html"
    page_file.write_text("<html><head><title>Wheat harvest</title></head><body><article><h1>Wheat harvest grows"
                         "</h1><p>" + "The wheat harvest and corn exports grew, grain shipments said. " * 8
                         + "</p></article></body></html>", encoding="utf-8")
    predictor = Predictor.load(tiny_run_dir)
    with check.serving(create_app(predictor)) as url, check.browser() as chromium:
        shown = check.check_page(chromium, url, artifacts, text="oil prices and barrels per day in Tokyo",
                                 page_file=page_file, name="one-target")
        api = httpx.post(url + "predict", json={"articles": [{"title": "", "body": "oil prices and barrels per day "
                                                                                   "in Tokyo"}], "top_k": 10}).json()
    labels = list(predictor.labels)
    assert shown["run"] == tiny_run_dir.name and tiny_run_dir.name in shown["title"]
    assert shown["known_labels"] == labels and f"multi-label, {len(labels)} labels" in shown["meta"]
    assert shown["labels"] == {"topics": api["predictions"][0]["labels"]}
    assert shown["scores_shown"] == min(10, len(labels))
    assert "Nothing to label" in shown["empty_error"] and shown["results_after_empty"] == 0
    assert set(shown["file_labels"]) == {"topics"} and shown["file_title"] == "Wheat harvest grows"
    assert "read as HTML, generic cleaning" in shown["file_status"]   # a tiny dataset without cleaning.json
    assert shown["external_requests"] == [] and shown["page_errors"] == []
    assert (artifacts / "one-target-answer.png").stat().st_size > 10_000


def test_browser_page_shows_both_targets_of_a_two_target_model(check, artifacts, two_target_predictor):
    from trainer.serving.http import create_app
    text = "Wheat harvest and corn exports rose in Paris and Berlin"
    expected = two_target_predictor.predict([text], top_k=10)[0]
    with check.serving(create_app(two_target_predictor)) as url, check.browser() as chromium:
        shown = check.check_page(chromium, url, artifacts, text=text, name="two-targets")
    assert shown["run"] == "two-targets"
    assert "topics: multi-label, 4 labels" in shown["meta"] and "regions: multi-label, 3 labels" in shown["meta"]
    assert shown["labels"] == {"topics": expected["topics"]["labels"], "regions": expected["regions"]["labels"]}
    assert shown["labels"]["topics"] == ["grain"] and shown["labels"]["regions"] == ["Western Europe"]
    assert shown["page_errors"] == []
