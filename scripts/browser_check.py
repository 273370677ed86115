"""Drive `trainer serve`'s page in a real headless browser (Debian chromium through Playwright): load it, read
the run name and labels off the page, submit an empty form (an error, no stale answer), submit a text and a
saved page, read the predicted labels off the page, and keep screenshots.

    python scripts/browser_check.py runs/test-tiny --out shots/        # prints a JSON summary

The browser steps are trainer/verification/serve_page.py's (tests/test_browser.py uses them too). Chromium:
/usr/bin/chromium (`apt-get install chromium`), or the binary named by $TRAINER_CHROMIUM.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trainer.verification.serve_page import SAMPLE, browser, check_page, serving


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("shots"), help="folder for the screenshots")
    parser.add_argument("--text", default=SAMPLE)
    parser.add_argument("--page", type=Path, help="a saved page (.txt/.html) to drop on the page")
    args = parser.parse_args(argv)
    from trainer.serving.http import create_app
    from trainer.serving.predictor import Predictor
    args.out.mkdir(parents=True, exist_ok=True)
    with serving(create_app(Predictor.load(args.run_dir))) as url, browser() as chromium:
        result = check_page(chromium, url, args.out, args.text, args.page, name=args.run_dir.resolve().name)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if not result["page_errors"] and not result["external_requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
