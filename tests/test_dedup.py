"""Exact and near-duplicate detection, and the choice of representatives."""
from __future__ import annotations

import random

import numpy as np

from trainer.data.config import DedupConfig
from trainer.data.dedup import (DuplicateGroups, band_keys, candidate_pairs, choose_representatives, confirm_pairs,
                                exact_key, group_duplicates, lsh_bands, minhash_signatures, normalise, text_key)

WORDS = ("market shares rose fell bank rates oil crude wheat exports imports profit loss quarter "
         "company said year tonnes dollar yen government minister talks trade deficit").split()


def find_duplicates(texts, cfg: DedupConfig) -> DuplicateGroups:
    """The build's dedup (trainer/data/stream.py: process_batch, local_candidates, decide) over `texts`:
    exact keys, MinHash band keys, candidates by a sort per band, pairs confirmed on the signatures."""
    texts = list(texts)
    keys = np.array([np.frombuffer(exact_key(t), np.uint8) for t in texts]).reshape(len(texts), 16) \
        if cfg.exact else None
    pairs = near_pairs(texts, cfg) if cfg.near else []
    return group_duplicates(len(texts), keys, pairs)


def near_pairs(texts, cfg: DedupConfig) -> list[tuple[int, int]]:
    sig, has = minhash_signatures(texts, cfg)
    bands = lsh_bands(cfg)
    index = np.flatnonzero(has)
    candidates = {(int(index[i]), int(index[j])) for i, j in candidate_pairs(band_keys(sig[index], bands))}
    return confirm_pairs(candidates, lambda idx: sig[idx], bands, cfg.threshold)


def reference_pairs(texts, cfg: DedupConfig) -> list[tuple[int, int]]:
    """The oracle: datasketch's MinHashLSH index queried with each document, pairs kept whose estimated
    Jaccard similarity reaches the threshold."""
    from datasketch import LeanMinHash, MinHashLSH

    from trainer.data.dedup import _MINHASH_SEED
    sig, has = minhash_signatures(texts, cfg)
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    lean = {}
    with lsh.insertion_session() as session:
        for i in np.flatnonzero(has):
            lean[i] = LeanMinHash(seed=_MINHASH_SEED, hashvalues=sig[i], scheme="affine32")
            session.insert(int(i), lean[i], check_duplication=False)
    return sorted((int(i), int(j)) for i, mh in lean.items() for j in lsh.query(mh)
                  if j > i and np.mean(sig[i] == sig[j]) >= cfg.threshold)


def _doc(seed: int, n: int = 120) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 50)) for _ in range(n))


def _edit(text: str, n_changes: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    words = text.split()
    for i in rng.sample(range(len(words)), n_changes):
        words[i] = "changed"
    return " ".join(words)


def test_dedup_normalise_ignores_case_spacing_punctuation():
    assert normalise("Oil  PRICES, rose!\n") == normalise("oil prices rose")
    assert text_key("Oil PRICES rose.") == text_key("oil prices   rose")


def test_dedup_groups_exact_duplicates():
    a, b = _doc(1), _doc(2)
    groups = find_duplicates([a, b, a.upper(), a + " !"], DedupConfig(near=False))
    assert groups.groups == [[0, 2, 3]]
    assert groups.exact_links == 2


def test_dedup_groups_near_duplicate_with_few_words_changed():
    a = _doc(3, 300)
    groups = find_duplicates([a, _doc(4), _edit(a, 2)], DedupConfig(exact=False, threshold=0.8))
    assert groups.groups == [[0, 2]]
    assert groups.near_links == 1


def test_dedup_keeps_unrelated_documents_apart():
    docs = [_doc(s) for s in range(200)]
    assert find_duplicates(docs, DedupConfig(threshold=0.5)).groups == []


def test_dedup_chains_near_duplicates_into_one_group():
    a = _doc(5, 400)
    b = _edit(a, 3, seed=1)
    c = _edit(b, 3, seed=2)
    groups = find_duplicates([c, _doc(6), a, b], DedupConfig(exact=False, threshold=0.7))
    assert groups.groups == [[0, 2, 3]]


def test_dedup_is_deterministic():
    a = _doc(7, 200)
    docs = [a, _edit(a, 2), _doc(8), _doc(8)]
    cfg = DedupConfig(threshold=0.8)
    assert find_duplicates(docs, cfg).groups == [[0, 1], [2, 3]]
    assert find_duplicates(list(docs), cfg).groups == [[0, 1], [2, 3]]


def test_dedup_groups_do_not_depend_on_the_hash_seed():
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path
    tests = Path(__file__).resolve().parent
    script = ("import json, random; from trainer.data.config import DedupConfig; "
              "from test_dedup import find_duplicates; "
              "words = [str(i) * 3 for i in range(300)]; rng = random.Random(1); "
              "docs = [' '.join(rng.choice(words) for _ in range(150)) for _ in range(30)]; docs += docs[:5]; "
              "print(json.dumps(find_duplicates(docs, DedupConfig(exact=False)).groups))")
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           cwd=tests, env={**os.environ, "PYTHONHASHSEED": seed})
            for seed in ("1", "2")]
    groups = [json.loads(r.stdout) for r in runs]
    assert groups[0] == groups[1] == [[i, 30 + i] for i in range(5)]


def test_dedup_keeps_first_member_without_predefined_splits():
    sel = choose_representatives(DuplicateGroups([[1, 4, 6]]))
    assert sel.removed == [4, 6]
    assert sel.kept_for == {4: 1, 6: 1}


def test_dedup_predefined_split_keeps_every_document_and_reports_cross_split():
    splits = ["test", "train", "train", "test"]
    sel = choose_representatives(DuplicateGroups([[0, 1, 2, 3], [4, 5]]), splits + ["train", "train"])
    assert sel.removed == []
    assert sel.cross_split == [[0, 1, 2, 3]]


def test_dedup_drop_cross_split_keeps_only_train_members():
    splits = ["test", "train", "train", "validation"]
    sel = choose_representatives(DuplicateGroups([[0, 1, 2, 3]]), splits, drop_cross_split=True)
    assert sel.removed == [0, 3]
    assert sel.dropped_cross_split == [0, 3]
    assert sel.kept_for[0] == 1


def _long_doc(n_words: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(f"w{rng.randrange(1_000_000)}" for _ in range(n_words))


def test_dedup_work_per_document_is_bounded(monkeypatch):
    """datasketch hashes every shingle with every permutation at once: a 48 MB document took 8 GB.
    No document may hand it more than MAX_SHINGLED_WORDS shingles, however long it is."""
    from datasketch import MinHash

    from trainer.data import dedup
    sizes = []
    real_bulk = MinHash.bulk.__func__

    def spy(cls, sets, **kw):
        sets = list(sets)
        sizes.extend(len(s) for s in sets)
        return real_bulk(cls, sets, **kw)
    monkeypatch.setattr(MinHash, "bulk", classmethod(spy))
    find_duplicates([_long_doc(3 * dedup.MAX_SHINGLED_WORDS), _doc(1)], DedupConfig())
    assert sizes and max(sizes) <= dedup.MAX_SHINGLED_WORDS


def test_dedup_exact_duplicates_compare_the_whole_text():
    from trainer.data.dedup import MAX_SHINGLED_WORDS
    head = _long_doc(MAX_SHINGLED_WORDS + 100)
    a, b = head + " " + _long_doc(50, seed=1), head + " " + _long_doc(50, seed=2)
    assert find_duplicates([a, b, a.upper()], DedupConfig(near=False)).groups == [[0, 2]]
    # near duplicates see only the capped prefix: these two share it, so they are near duplicates
    assert find_duplicates([a, b], DedupConfig(exact=False)).groups == [[0, 1]]


def test_dedup_normalising_in_chunks_changes_nothing(monkeypatch):
    import hashlib
    import re
    import unicodedata

    from trainer.data import dedup
    text = ("Ｆｕｌｌ-width ＡＢＣ, Straße ÉTÉ cafe\u0301 ﬁne  \u00b4accent x\u0301 " * 40) + "end"
    whole = " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold()))
    for size in (12, 16, 64, 1000):   # windows that hold a space (a window without one is cut as is)
        monkeypatch.setattr(dedup, "_CHUNK_CHARS", size)
        assert normalise(text) == whole
        assert text_key(text) == hashlib.blake2b(whole.encode(), digest_size=16).hexdigest()


def test_dedup_band_keys_find_the_pairs_of_datasketchs_lsh_index():
    """The streaming build's near duplicates (band keys sorted per band, pairs confirmed on the signatures)
    are the pairs of datasketch's MinHashLSH query + Jaccard check, over documents of every similarity."""
    base = [_doc(s) for s in range(40)]
    docs = base + [_edit(base[i], k, seed=i) for i, k in zip(range(40), [1, 3, 6, 10, 15, 25, 40] * 6)]
    docs += [base[0].upper(), "", "short text"]          # exact copy, no shingles, one shingle
    for threshold in (0.5, 0.8, 0.9):
        cfg = DedupConfig(threshold=threshold)
        pairs = near_pairs(docs, cfg)
        assert pairs == reference_pairs(docs, cfg) and len(pairs) >= 4
