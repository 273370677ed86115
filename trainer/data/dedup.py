"""Exact and near-duplicate detection over a whole corpus, and the choice of one document per group.

Exact duplicates share the hash of their normalised text. Near duplicates are found with MinHash
LSH (datasketch) over word shingles; LSH candidates are confirmed by their estimated Jaccard
similarity so that a band collision alone never merges two documents. Links are merged with
union-find, so a chain of near duplicates forms one group.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from trainer.data.config import DedupConfig

_WORD = re.compile(r"\w+")
_MINHASH_SEED = 1  # fixed: signatures, hence groups, must not change between builds


def normalise(text: str) -> str:
    """Case-, accent-width- and punctuation-insensitive form used for exact matching."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(_WORD.findall(text))


def text_key(text: str) -> str:
    """Hash of the normalised text: equal keys mean exact duplicates (also used by `inspect`)."""
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class DuplicateGroups:
    """Groups of document indices (each of size >= 2, sorted) and how many links of each kind."""
    groups: list[list[int]] = field(default_factory=list)
    exact_links: int = 0
    near_links: int = 0

    def group_of(self) -> dict[int, int]:
        return {doc: g for g, members in enumerate(self.groups) for doc in members}


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]  # path halving keeps trees shallow
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)  # lowest index as root: deterministic groups
        return True

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return sorted((m for m in out.values() if len(m) > 1), key=lambda m: m[0])


def find_duplicates(texts: Sequence[str], cfg: DedupConfig) -> DuplicateGroups:
    """Group the documents of `texts` that are exact or near duplicates of each other."""
    uf = _UnionFind(len(texts))
    normalised = [normalise(t) for t in texts]
    exact = near = 0
    if cfg.exact:
        first: dict[str, int] = {}
        for i, norm in enumerate(normalised):
            j = first.setdefault(norm, i)
            if j != i:
                exact += uf.union(j, i)
    if cfg.near:
        for i, j in near_duplicate_pairs(normalised, cfg):
            near += uf.union(i, j)
    return DuplicateGroups(uf.groups(), exact_links=exact, near_links=near)


def _shingles(norm: str, size: int) -> list[bytes]:
    words = norm.split()
    if len(words) <= size:  # short text: the whole text is its only shingle
        return [norm.encode("utf-8")] if words else []
    return list({" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)})


def minhash_signatures(normalised: Sequence[str], cfg: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """(signatures [n, num_perm] uint32, has_shingles [n] bool) with datasketch's affine32 scheme."""
    import xxhash
    from datasketch import MinHash

    shingle_sets = [_shingles(n, cfg.shingle_size) for n in normalised]
    has = np.array([bool(s) for s in shingle_sets], dtype=bool)
    # xxh32 instead of datasketch's default SHA1: same quality for this purpose, several times faster
    mhs = MinHash.bulk((s for s in shingle_sets), num_perm=cfg.num_perm, seed=_MINHASH_SEED,
                       hashfunc=xxhash.xxh32_intdigest)
    sig = np.stack([m.hashvalues for m in mhs]) if mhs else np.zeros((0, cfg.num_perm), np.uint32)
    return sig, has


def near_duplicate_pairs(normalised: Sequence[str], cfg: DedupConfig) -> list[tuple[int, int]]:
    """Pairs (i < j) whose estimated Jaccard similarity of word shingles reaches cfg.threshold."""
    from datasketch import LeanMinHash, MinHashLSH

    sig, has = minhash_signatures(normalised, cfg)
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    lean = {}
    with lsh.insertion_session() as session:
        for i in np.flatnonzero(has):
            lean[i] = LeanMinHash(seed=_MINHASH_SEED, hashvalues=sig[i], scheme="affine32")
            session.insert(int(i), lean[i], check_duplication=False)
    pairs = []
    for i, mh in lean.items():
        for j in lsh.query(mh):
            if j > i and np.mean(sig[i] == sig[j]) >= cfg.threshold:
                pairs.append((int(i), int(j)))
    return sorted(pairs)


@dataclass
class Selection:
    """Which documents dedup removes, and the duplicate groups that span predefined splits."""
    removed: list[int]                       # indices dropped as duplicates of a kept document
    kept_for: dict[int, int]                 # removed index -> index of the kept representative
    cross_split: list[list[int]]             # groups whose members lie in different splits
    dropped_cross_split: list[int] = field(default_factory=list)  # test-side members dropped


def choose_representatives(groups: DuplicateGroups, splits: Sequence[str | None] | None = None,
                           drop_cross_split: bool = False) -> Selection:
    """Keep one document per group.

    Without predefined splits the first document (input order) is kept and the others removed.
    A predefined split is a published benchmark (ModApte): its documents are all kept, so results
    stay comparable, and groups spanning splits are reported. With `drop_cross_split`, the
    members of such groups outside train are removed, the first train member kept.
    """
    removed: dict[int, int] = {}
    cross, dropped = [], []
    for members in groups.groups:
        if splits is None:
            for m in members[1:]:
                removed[m] = members[0]
            continue
        if len({splits[m] for m in members}) == 1:
            continue
        cross.append(members)
        train = [m for m in members if splits[m] == "train"]
        if drop_cross_split and train:
            for m in members:
                if splits[m] != "train":
                    removed[m] = train[0]
                    dropped.append(m)
    return Selection(sorted(removed), removed, cross, sorted(dropped))
