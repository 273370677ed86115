"""Benchmark the scraped-page reader: pages/s over N synthetic pages of one outlet (both passes).

    python scripts/bench_scraped.py [--pages 5000] [--layout sputnik|planet]
"""
from __future__ import annotations

import argparse
import tempfile
import time

from trainer.data.article import Article
from trainer.data.config import SourceConfig
from trainer.data.readers import read_articles
from trainer.data.synthetic import write_pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--layout", choices=["sputnik", "planet"], default="sputnik")
    parser.add_argument("--repeat", type=int, default=3, help="report the best of this many runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_pages(tmp, args.pages, args.layout, seed=0)
        source = SourceConfig(kind="scraped", path=tmp, profile={"outlet": "bench"})
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            records = list(read_articles(source))
            best = min(best, time.perf_counter() - start)
        kept = sum(isinstance(r, Article) for r in records)
    print(f"{args.pages} pages ({args.layout}), {kept} articles: best {best:.3f} s = {args.pages / best:,.0f} pages/s")


if __name__ == "__main__":
    main()
