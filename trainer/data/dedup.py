"""Exact and near-duplicate detection over a whole corpus, and the choice of one document per group.

Exact duplicates share the hash of their normalised text (all of it). Near duplicates are found with
MinHash LSH (datasketch) over word shingles of the first MAX_SHINGLED_WORDS words of each document;
LSH candidates are confirmed by their estimated Jaccard similarity so that a band collision alone
never merges two documents. Links are merged with union-find, so a chain of near duplicates forms
one group.

Work per document is bounded: the text is normalised in chunks (no list of all its words), and the
shingles of a document are capped, since datasketch hashes every shingle with every permutation at
once (a 48 MB document took 28 s and 8 GB that way). Two long documents that share their first
MAX_SHINGLED_WORDS words are near duplicates whatever follows; exact duplicates still compare the
whole text.
"""
from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import numpy as np

from trainer.data.config import DedupConfig

_WORD = re.compile(r"\w+")
_MINHASH_SEED = 1  # fixed: signatures, hence groups, must not change between builds
# Near-duplicate detection reads at most this many words of a document (news articles are far
# shorter; Reuters' longest has under 1,300): about 20 MB of datasketch work per document at most.
MAX_SHINGLED_WORDS = 20_000
_CHUNK_CHARS = 1 << 20   # normalise long texts this much at a time


def words(text: str) -> Iterator[str]:
    """The normalised words of `text` (NFKC, case-folded, punctuation dropped), a chunk at a time."""
    for chunk in _chunks(text or ""):
        yield from _WORD.findall(unicodedata.normalize("NFKC", chunk).casefold())


def _chunks(text: str) -> Iterator[str]:
    """Pieces of about _CHUNK_CHARS, cut after a space so that no word (or character and its
    combining marks) is split; a text with no space in a window is cut where it is."""
    start = 0
    while start < len(text):
        end = start + _CHUNK_CHARS
        if end < len(text):
            space = text.rfind(" ", start, end)
            end = space + 1 if space > start else end
        yield text[start:end]
        start = end


def normalise(text: str) -> str:
    """Case-, accent-width- and punctuation-insensitive form used for exact matching."""
    return " ".join(words(text))


def text_key(text: str) -> str:
    """Hash of the normalised text: equal keys mean exact duplicates (also used by `inspect`).
    The words are hashed as they come, so a huge text is never held normalised in memory."""
    digest = hashlib.blake2b(digest_size=16)
    for i, word in enumerate(words(text)):
        digest.update(b" " + word.encode("utf-8") if i else word.encode("utf-8"))
    return digest.hexdigest()


@dataclass
class DuplicateGroups:
    """Groups of document indices (each of size >= 2, sorted) and how many links of each kind."""
    groups: list[list[int]] = field(default_factory=list)
    exact_links: int = 0
    near_links: int = 0


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


def shingles(text: str, size: int, max_words: int = MAX_SHINGLED_WORDS) -> list[bytes]:
    """The distinct `size`-word shingles of the first `max_words` normalised words of `text`."""
    head = list(itertools.islice(words(text), max_words))
    if len(head) <= size:  # short text: the whole text is its only shingle
        return [" ".join(head).encode("utf-8")] if head else []
    return list({" ".join(head[i:i + size]).encode("utf-8") for i in range(len(head) - size + 1)})


def minhash_signatures(texts: Iterable[str], cfg: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """(signatures [n, num_perm] uint32, has_shingles [n] bool) with datasketch's affine32 scheme.
    The shingles of one document at a time are alive, never those of the whole corpus."""
    import xxhash
    from datasketch import MinHash

    has: list[bool] = []

    def shingle_sets():
        for text in texts:
            found = shingles(text, cfg.shingle_size)
            has.append(bool(found))
            yield found
    # xxh32 instead of datasketch's default SHA1: same quality for this purpose, several times faster
    mhs = MinHash.bulk(shingle_sets(), num_perm=cfg.num_perm, seed=_MINHASH_SEED, hashfunc=xxhash.xxh32_intdigest)
    sig = np.stack([m.hashvalues for m in mhs]) if mhs else np.zeros((0, cfg.num_perm), np.uint32)
    return sig, np.array(has, dtype=bool)


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


# ---- near duplicates on a stream: signatures per batch, LSH bands as arrays ----------------------------
# The build does not keep datasketch's MinHashLSH index (a dict of sets per band: several KB per
# document, see scripts/bench_build.py) nor every signature in memory. Each document leaves a 64-bit
# key per LSH band (the same bands MinHashLSH(threshold, num_perm) uses); documents whose keys agree
# in a band are candidates, and a candidate pair is linked when its signatures agree exactly in at
# least one band (MinHashLSH's candidate rule) and in >= threshold of all positions (the estimated
# Jaccard check). So the links are those of a MinHashLSH query plus that check (tests/test_dedup.py
# holds it as the oracle), whatever engine finds the candidates: a sort per band here, a groupby on
# (band, key) on a cluster.
_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)


def lsh_bands(cfg: DedupConfig) -> list[tuple[int, int]]:
    """The (start, end) signature ranges of MinHashLSH's bands for cfg.threshold and cfg.num_perm."""
    from datasketch import MinHashLSH
    return [(int(s), int(e)) for s, e in MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm).hashranges]


def band_keys(sig: np.ndarray, bands: Sequence[tuple[int, int]]) -> np.ndarray:
    """[n, len(bands)] uint64: an FNV-1a style hash of each band of each signature (a collision only
    adds a candidate, which confirm_pairs then checks)."""
    out = np.empty((len(sig), len(bands)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b, (start, end) in enumerate(bands):
            h = np.full(len(sig), _FNV_OFFSET, dtype=np.uint64)
            for k in range(start, end):
                h = (h ^ sig[:, k].astype(np.uint64)) * _FNV_PRIME
            out[:, b] = h
    return out


def bucket_pairs(members: np.ndarray) -> Iterator[tuple[int, int]]:
    """Every pair (i < j) of one LSH bucket's sorted member indices."""
    members = np.sort(members)
    for a in range(len(members) - 1):
        for b in range(a + 1, len(members)):
            yield int(members[a]), int(members[b])


def candidate_pairs(keys: np.ndarray) -> set[tuple[int, int]]:
    """Pairs (i < j) of rows of `keys` ([n, bands] uint64) that share a key in some band."""
    pairs: set[tuple[int, int]] = set()
    n = len(keys)
    for b in range(keys.shape[1] if n else 0):
        order = np.argsort(keys[:, b], kind="stable")
        column = keys[order, b]
        starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
        ends = np.r_[starts[1:], n]
        for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
            pairs.update(bucket_pairs(order[s:e]))
    return pairs


def confirm_pairs(pairs: Iterable[tuple[int, int]], signatures, bands: Sequence[tuple[int, int]],
                  threshold: float) -> list[tuple[int, int]]:
    """The sorted pairs that share a band exactly and whose signatures agree on >= threshold positions.
    `signatures(indices)` returns their signature rows ([k, num_perm] uint32), in that order."""
    pairs = sorted(pairs)
    if not pairs:
        return []
    needed = np.unique(np.array(pairs, dtype=np.int64).ravel())
    sig = signatures(needed)
    row = {int(i): k for k, i in enumerate(needed)}
    out = []
    for i, j in pairs:
        a, b = sig[row[i]], sig[row[j]]
        if np.mean(a == b) >= threshold and any(np.array_equal(a[s:e], b[s:e]) for s, e in bands):
            out.append((i, j))
    return out


def exact_key(text: str) -> bytes:
    """text_key as 16 raw bytes."""
    return bytes.fromhex(text_key(text))


def group_duplicates(n: int, keys: np.ndarray | None, near_pairs: Iterable[tuple[int, int]]) -> DuplicateGroups:
    """Groups of exact or near duplicates (chains of links form one group) from precomputed parts: `keys` ([n, 16] uint8 exact keys, or None when
    exact matching is off) and the confirmed near-duplicate pairs."""
    uf = _UnionFind(n)
    exact = near = 0
    if keys is not None and n:
        _, first_index, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        first = first_index[inverse.ravel()]
        for i in np.flatnonzero(first != np.arange(n)):
            exact += uf.union(int(first[i]), int(i))
    for i, j in sorted(near_pairs):
        near += uf.union(i, j)
    return DuplicateGroups(uf.groups(), exact_links=exact, near_links=near)
