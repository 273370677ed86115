"""Write docs/reference/configs.md, the reference of every config key, from the pydantic schemas themselves.

The schemas (trainer/config/run_config.py, trainer/data/config.py) hold each key's type, default, allowed values
and description, as `trainer validate --explain KEY` reads them; this page lists them all, one table per section,
so that the documentation cannot drift from the code. The file is committed (it reads on GitHub without a build);
tests/test_docs.py fails when it is out of date or when a field has no description.

    python scripts/gen_config_reference.py           # rewrite docs/reference/configs.md
    python scripts/gen_config_reference.py --check   # exit 1 if the file is out of date (writes nothing)

The rendering is trainer/workflows/config_reference.py's; this script writes or checks the file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainer.atomic import atomic_write_text
from trainer.config.run_config import RunConfig
from trainer.data.config import DataConfig
from trainer.workflows.config_reference import SCRIPT, missing_descriptions, render

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "reference" / "configs.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date; write nothing")
    parser.add_argument("--out", type=Path, default=OUT, help=f"file to write (default: {OUT.relative_to(REPO)})")
    args = parser.parse_args(argv)
    missing = missing_descriptions(RunConfig, DataConfig)
    if missing:
        print(f"error: config fields without a description: {', '.join(missing)}; add description= to their "
              "Field() in the schema", file=sys.stderr)
        return 1
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"error: {args.out} is out of date with the config schemas; run: python {SCRIPT}", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
