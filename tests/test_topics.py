"""Topic labels: field choice, mapping (rename, merge, drop) and the corpus-level label filter."""
from __future__ import annotations

import pytest

from trainer.data.article import Article
from trainer.data.config import TopicLabels
from trainer.data.topics import filter_labels, topic_labels


def article(**kw) -> Article:
    return Article(id="1", source="t", **kw)


def test_topics_unmapped_labels_pass_through_sorted_unique():
    assert topic_labels(article(topics=["grain", "corn", "grain"]), TopicLabels()) == ["corn", "grain"]


def test_topics_mapping_renames():
    cfg = TopicLabels(mapping={"acq": "acquisitions"})
    assert topic_labels(article(topics=["acq", "earn"]), cfg) == ["acquisitions", "earn"]


def test_topics_mapping_merges_several_labels_into_one():
    cfg = TopicLabels(mapping={"wheat": "grain", "corn": "grain"})
    assert topic_labels(article(topics=["wheat", "corn"]), cfg) == ["grain"]


def test_topics_mapping_null_drops():
    cfg = TopicLabels(mapping={"earn": None})
    assert topic_labels(article(topics=["earn", "acq"]), cfg) == ["acq"]
    assert topic_labels(article(topics=["earn"]), cfg) == []


def test_topics_section_field():
    cfg = TopicLabels(field="section", multi_label=False, mapping={"Military & Intelligence": "military"})
    assert topic_labels(article(section="Military & Intelligence"), cfg) == ["military"]
    assert topic_labels(article(section=None), cfg) == []


def test_topics_tags_field_strips_blanks():
    labels = topic_labels(article(tags=[" terrorism ", "", "CIS"]), TopicLabels(field="tags"))
    assert labels == ["CIS", "terrorism"]


def test_topics_filter_labels_min_count_counts_training_documents():
    labels = [["a", "b"], ["a"], ["c"], ["b"]]
    train, test = [True, True, True, False], [False, False, False, True]
    assert filter_labels(labels, train, test, TopicLabels(min_count=2)) == {"a"}


def test_topics_filter_labels_require_in_test():
    labels = [["a", "b"], ["a"], ["b"]]
    cfg = TopicLabels(require_in_test=True)
    assert filter_labels(labels, [True, True, False], [False, False, True], cfg) == {"b"}


def test_topics_filter_labels_rejects_masks_of_other_length():
    with pytest.raises(ValueError, match="differ in length"):
        filter_labels([["a"]], [True, False], [False], TopicLabels())
