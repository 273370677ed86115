"""Split invariants: determinism, stratification, validation carved from train, time ordering."""
from __future__ import annotations

import random
from collections import Counter

from trainer.data.config import SplitConfig
from trainer.data.split import NO_DATE, assign_splits


def _labels(n: int = 600, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    pool = ["earn"] * 6 + ["acq"] * 3 + ["crude", "grain"]
    return [sorted({rng.choice(pool) for _ in range(rng.randint(1, 2))}) for _ in range(n)]


def _share(labels, idx, label):
    return sum(label in labels[i] for i in idx) / len(idx)


def test_split_random_is_seeded_and_deterministic():
    labels = _labels()
    cfg = SplitConfig(kind="random", seed=7)
    assert assign_splits(labels, cfg).assignment == assign_splits(labels, cfg).assignment
    assert assign_splits(labels, cfg).assignment != assign_splits(labels, SplitConfig(kind="random", seed=8)).assignment


def test_split_random_sizes_follow_config():
    labels = _labels(1000)
    result = assign_splits(labels, SplitConfig(kind="random", test_size=0.2, validation_size=0.1))
    sizes = Counter(result.assignment)
    # iterative stratification trades exact sizes for label balance: allow a few documents
    assert abs(sizes["test"] - 200) <= 10
    assert abs(sizes["validation"] - 0.1 * (1000 - sizes["test"])) <= 10
    assert sum(sizes.values()) == 1000


def test_split_random_keeps_label_proportions():
    labels = _labels(1000, seed=3)
    result = assign_splits(labels, SplitConfig(kind="random", test_size=0.3))
    for label in ("earn", "acq", "crude", "grain"):
        overall = _share(labels, range(len(labels)), label)
        for split in ("train", "test", "validation"):
            assert abs(_share(labels, result.indices(split), label) - overall) < 0.05, (label, split)


def test_split_random_stratifies_single_label_rare_classes():
    labels = [["big"]] * 90 + [["rare"]] * 10
    result = assign_splits(labels, SplitConfig(kind="random", test_size=0.2, validation_size=0))
    assert sum(labels[i] == ["rare"] for i in result.indices("test")) == 2


def test_split_validation_is_carved_from_train_only():
    labels = _labels(300)
    predefined = ["train"] * 200 + ["test"] * 100
    result = assign_splits(labels, SplitConfig(kind="predefined", validation_size=0.25), predefined=predefined)
    assert result.assignment[200:] == ["test"] * 100
    carved = Counter(result.assignment[:200])
    assert set(carved) == {"train", "validation"}
    assert abs(carved["validation"] - 50) <= 5


def test_split_predefined_validation_from_data_is_kept():
    predefined = ["train", "validation", "test", "train"]
    result = assign_splits([[]] * 4, SplitConfig(kind="predefined", validation_size=0.5), predefined=predefined)
    assert result.assignment == predefined


def test_split_time_puts_oldest_in_train_newest_in_test():
    dates = [f"2020-01-{d:02d}" for d in random.Random(1).sample(range(1, 31), 30)]
    result = assign_splits([["x"]] * 30, SplitConfig(kind="time", test_size=0.2, validation_size=0.25),
                           published=dates)
    by = {s: [dates[i] for i in result.indices(s)] for s in ("train", "validation", "test")}
    assert max(by["train"]) < min(by["validation"]) and max(by["validation"]) < min(by["test"])
    assert len(by["test"]) == 6


def test_split_time_rejects_undated_documents():
    dates = ["2021-03-01T10:00:00+02:00", None, "not a date", "2021-03-02"]
    result = assign_splits([["x"]] * 4, SplitConfig(kind="time", validation_size=0), published=dates)
    assert result.rejects == {1: NO_DATE, 2: NO_DATE}
    assert result.assignment == ["train", None, None, "test"]


def _pairs_straddling(result, groups) -> list[int]:
    side: dict[int, set] = {}
    for i, g in enumerate(groups):
        side.setdefault(g, set()).add(result.assignment[i])
    return sorted(g for g, splits in side.items() if len(splits) > 1)


def test_split_validation_carve_out_moves_groups_whole():
    """Predefined train with duplicate pairs (group ids shared by two documents): the carve-out
    must put both members of a pair in train or both in validation."""
    labels = _labels(200, seed=5)
    predefined = ["train"] * 160 + ["test"] * 40
    groups = [i // 2 if i < 160 else 1000 + i for i in range(200)]     # 80 pairs in train
    result = assign_splits(labels, SplitConfig(kind="predefined", validation_size=0.25), predefined=predefined,
                           groups=groups)
    assert {result.assignment[i] for i in range(160)} == {"train", "validation"}
    assert _pairs_straddling(result, groups) == []


def test_split_random_holdout_moves_groups_whole():
    labels = _labels(300, seed=6)
    groups = [i // 3 for i in range(300)]                                # 100 triples
    result = assign_splits(labels, SplitConfig(kind="random", test_size=0.2, validation_size=0.2), groups=groups)
    assert set(result.assignment) == {"train", "validation", "test"}
    assert _pairs_straddling(result, groups) == []
