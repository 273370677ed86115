"""Topic labels of an article: the configured field, renamed, merged or dropped by `mapping`.

`min_count` and `require_in_test` need the whole corpus and its split: the dataset builder applies
them with `filter_labels` after every article has its labels.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from trainer.data.article import Article
from trainer.data.config import TopicLabels


def topic_labels(article: Article, cfg: TopicLabels) -> list[str]:
    """Sorted unique labels; a mapping value renames (several keys to one value merge), null drops."""
    labels = set()
    for raw in _raw_labels(article, cfg.field):
        label = raw.strip()
        if label in cfg.mapping:
            label = cfg.mapping[label]
        if label:
            labels.add(label)
    return sorted(labels)


def filter_labels(label_lists: Sequence[Iterable[str]], train_mask: Sequence[bool],
                  test_mask: Sequence[bool], cfg: TopicLabels) -> set[str]:
    """Labels to keep: at least `min_count` training documents and, with `require_in_test`, at
    least one test document (ModApte's 90 categories)."""
    if not len(label_lists) == len(train_mask) == len(test_mask):
        raise ValueError("filter_labels: label_lists, train_mask and test_mask differ in length")
    train, test = Counter(), Counter()
    for labels, in_train, in_test in zip(label_lists, train_mask, test_mask):
        unique = set(labels)
        if in_train:
            train.update(unique)
        if in_test:
            test.update(unique)
    keep = {label for label, n in train.items() if n >= cfg.min_count}
    if cfg.require_in_test:
        keep &= set(test)
    return keep


def _raw_labels(article: Article, field: str) -> list[str]:
    if field == "section":
        return [article.section] if article.section else []
    return list(getattr(article, field))
