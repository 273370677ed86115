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
    return topic_decisions(label_lists, train_mask, test_mask, cfg)[0]


def topic_decisions(label_lists: Sequence[Iterable[str]], train_mask: Sequence[bool],
                    test_mask: Sequence[bool], cfg: TopicLabels) -> tuple[set[str], list[dict]]:
    """(labels kept, one record per label dropped): see filter_labels. A record names the label, its
    documents (all splits, training, test), the rule (config key) that dropped it, its threshold and the
    reason in words, so the build can say out loud what it dropped (console and manifest.json)."""
    if not len(label_lists) == len(train_mask) == len(test_mask):
        raise ValueError("filter_labels: label_lists, train_mask and test_mask differ in length")
    train, test, everywhere = Counter(), Counter(), Counter()
    for labels, in_train, in_test in zip(label_lists, train_mask, test_mask):
        unique = set(labels)
        everywhere.update(unique)
        if in_train:
            train.update(unique)
        if in_test:
            test.update(unique)
    keep, dropped = set(), []
    for label in sorted(everywhere):
        n_train = train[label]
        record = {"label": label, "documents": everywhere[label], "train": n_train, "test": test[label]}
        if n_train < cfg.min_count:
            dropped.append({**record, "rule": "labels.topic.min_count", "threshold": cfg.min_count,
                            "reason": f"{n_train} training document(s), fewer than labels.topic.min_count "
                                      f"{cfg.min_count}"})
        elif cfg.require_in_test and not test[label]:
            dropped.append({**record, "rule": "labels.topic.require_in_test", "threshold": 1,
                            "reason": "no test document (labels.topic.require_in_test)"})
        else:
            keep.add(label)
    return keep, dropped


def _raw_labels(article: Article, field: str) -> list[str]:
    if field == "section":
        return [article.section] if article.section else []
    return list(getattr(article, field))
