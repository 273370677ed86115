"""How well does the text region labeller recover Reuters PLACES from the words alone?

Labels every Reuters-21578 document that has at least one PLACES code from its title and body
(PLACES ignored; the wire dateline opens the body), compares with the labels derived from PLACES, and prints micro/macro precision,
recall and F1 and a per-label table.

    python scripts/eval_region_labeller.py [--path reuters21578.tar.gz] [--granularity subregion]

Without --path the archive is found through $TRAINER_DATA_MIRROR (or the download cache).
"""
from __future__ import annotations

import argparse
import sys
import time

from sklearn.metrics import precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from trainer.data.article import Article
from trainer.data.config import RegionLabels, SourceConfig
from trainer.data.readers import read_articles
from trainer.data.regions import RegionLabeller, leading_dateline
from trainer.errors import TrainerError


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        source = SourceConfig(kind="reuters", path=args.path, limit=args.limit)
        docs = [a for a in read_articles(source)
                if isinstance(a, Article) and a.places]
    except TrainerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not docs:
        print("error: no document with PLACES codes was read", file=sys.stderr)
        return 1
    gold_labeller = RegionLabeller(RegionLabels(granularity=args.granularity, fields=["places"],
                                                from_text="never"))
    text_labeller = RegionLabeller(RegionLabels(granularity=args.granularity, fields=[],
                                                from_text="always"))
    if args.no_dateline:
        for doc in docs:  # cut the wire dateline that opens the body
            if leading_dateline(doc.body):
                doc.body = doc.body.split(" - ", 1)[-1]
    text_labeller.text_to_regions("")  # build the gazetteer outside the timed loop
    start = time.perf_counter()
    predicted = [text_labeller.label(doc) for doc in docs]
    seconds = time.perf_counter() - start
    gold = [gold_labeller.label(doc) for doc in docs]
    print(f"{len(docs)} documents with PLACES; labelled from text in {seconds:.2f} s "
          f"({'title + body' if args.no_dateline else 'title + body (the wire dateline opens the body)'}, "
          f"granularity {args.granularity})")
    _report(gold, predicted, args.top)
    return 0


def _report(gold: list[list[str]], predicted: list[list[str]], top: int) -> None:
    binarizer = MultiLabelBinarizer().fit(gold + predicted)
    y_true, y_pred = binarizer.transform(gold), binarizer.transform(predicted)
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
        print(f"{average:>5}: precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}")
    exact = sum(set(g) == set(p) for g, p in zip(gold, predicted)) / len(gold)
    print(f"exact set match: {exact:.4f}; documents with no text label: "
          f"{sum(not p for p in predicted)}")
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    rows = sorted(zip(binarizer.classes_, p, r, f, support, y_pred.sum(axis=0)), key=lambda x: -x[4])
    print(f"\n{'label':<28}{'support':>8}{'predicted':>10}{'P':>8}{'R':>8}{'F1':>8}")
    for label, p_, r_, f_, s_, n_ in rows[:top]:
        print(f"{label:<28}{s_:>8}{n_:>10}{p_:>8.3f}{r_:>8.3f}{f_:>8.3f}")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", help="reuters21578.tar.gz or a folder of reut2-*.sgm "
                                       "(default: $TRAINER_DATA_MIRROR)")
    parser.add_argument("--granularity", choices=["region", "subregion", "country"], default="subregion")
    parser.add_argument("--no-dateline", action="store_true", help="label from title and body only")
    parser.add_argument("--limit", type=int, help="read only the first N documents (smoke test)")
    parser.add_argument("--top", type=int, default=40, help="rows of the per-label table")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
