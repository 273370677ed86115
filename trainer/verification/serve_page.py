"""Drive `trainer serve`'s page in a real headless browser (Debian chromium through Playwright): load it, read
the run name and labels off the page, submit an empty form (an error, no stale answer), submit a text and a
saved page, read the predicted labels off the page. scripts/browser_check.py and tests/test_browser.py (slow)
use it. Chromium: /usr/bin/chromium (`apt-get install chromium`), or the binary named by $TRAINER_CHROMIUM;
Playwright's own browser download is not needed (playwright is imported on first use, from the dev extra).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("TRAINER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SAMPLE = ("Saudi Arabia raised its crude oil output to 10 million barrels per day in March, OPEC said, as "
          "oil prices fell and refinery supply grew. Net profit of the state oil company rose.")


def serving(app):
    """The app on a free loopback port, in a thread (trainer.serving.http.serving_in_thread); yields its URL."""
    from trainer.serving.http import serving_in_thread
    return serving_in_thread(app)


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def labels_on_page(page) -> dict[str, list[str]]:
    """The predicted labels each result card shows, by target."""
    out = {}
    for card in page.locator("#results article").all():
        out[card.get_attribute("data-target")] = card.locator(".chips.predicted .chip.on").all_inner_texts()
    return out


def check_page(chromium, url: str, out: Path | None = None, text: str = SAMPLE, page_file: Path | None = None,
               name: str = "page") -> dict:
    """Everything a user does on the page, with what the page showed at each step."""
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith((url, "data:")) else None)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    result = {"title": page.title(), "run": page.locator("#run-name").inner_text(),
              "meta": page.locator("#meta").inner_text(),
              "known_labels": page.locator("#label-lists .chip").all_text_contents()}
    # a first answer, then an empty submit: an error, and the first answer is gone
    page.fill("#body", text)
    page.click("#submit")
    page.wait_for_selector("#results article")
    result["labels"] = labels_on_page(page)
    result["scores_shown"] = page.locator("#results .bars li").count()
    if out is not None:
        page.screenshot(path=str(out / f"{name}-answer.png"), full_page=True)
    page.fill("#body", "")
    page.fill("#title", "")
    page.click("#submit")
    page.wait_for_selector("#error", state="visible")
    result["empty_error"] = page.locator("#error").inner_text()
    result["results_after_empty"] = page.locator("#results article").count()
    if out is not None:
        page.screenshot(path=str(out / f"{name}-empty-submit.png"), full_page=True)
    if page_file is not None:
        page.set_input_files("#file", str(page_file))
        page.wait_for_selector("#results article")
        result["file_labels"] = labels_on_page(page)
        result["file_title"] = page.input_value("#title")
        result["file_status"] = page.locator("#status").inner_text()
        if out is not None:
            page.screenshot(path=str(out / f"{name}-file.png"), full_page=True)
    result["external_requests"] = external
    result["page_errors"] = errors
    page.close()
    return result
