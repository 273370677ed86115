"""Check that the Ray engine build and the local build write the same dataset (whole Reuters archive by default).

    python scripts/check_engine_equivalence.py [--config configs/data/reuters-topics.yaml] [--workers 2] [KEY=VALUE ...]
    python scripts/check_engine_equivalence.py --compare DIR_A DIR_B      # two dataset directories already built

Builds the config twice (build.engine=local, build.engine=ray on a Ray started in-process, or on
$RAY_ADDRESS) and compares: the rows of each split (ids in order, every column), rejects.jsonl and
duplicates.jsonl (same records, same order), and the manifest (counts, labels, rejected reasons,
dedup groups and links, stage counts, accounting). Prints each difference; exit 1 when there is one.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# manifest keys that depend on how and when the build ran, not on what it decided
RUN_KEYS = {"built_at", "build_seconds", "timings", "engine", "versions", "name", "config_path"}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _text_or_none(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def compare(a: Path, b: Path) -> list[str]:
    """Differences between two dataset directories, in words (empty when they hold the same dataset)."""
    from trainer.data.dataset_io import load_dataset_dir

    dsd_a, man_a = load_dataset_dir(a)
    dsd_b, man_b = load_dataset_dir(b)
    out = []
    for split in sorted(set(dsd_a) | set(dsd_b)):
        if split not in dsd_a or split not in dsd_b:
            out.append(f"split {split}: only in {'the first' if split in dsd_a else 'the second'}")
            continue
        rows_a, rows_b = dsd_a[split].to_list(), dsd_b[split].to_list()
        ids_a, ids_b = [r["id"] for r in rows_a], [r["id"] for r in rows_b]
        if ids_a != ids_b:
            only_a, only_b = set(ids_a) - set(ids_b), set(ids_b) - set(ids_a)
            out.append(f"split {split}: ids differ ({len(ids_a)} vs {len(ids_b)} rows; only first: "
                       f"{sorted(only_a)[:5]}; only second: {sorted(only_b)[:5]}"
                       + ("; same ids, other order" if not only_a and not only_b else "") + ")")
            continue
        bad = [r["id"] for r, s in zip(rows_a, rows_b) if r != s]
        if bad:
            out.append(f"split {split}: {len(bad)} rows differ, e.g. {bad[:5]}")
    from trainer.contracts import CLEANING
    if _text_or_none(a / CLEANING) != _text_or_none(b / CLEANING):   # what inference will clean pages with
        out.append(f"{CLEANING}: differs")
    for name in ("rejects.jsonl", "duplicates.jsonl"):
        la, lb = _lines(a / name), _lines(b / name)
        if la != lb:
            sa = {json.dumps(x, sort_keys=True) for x in la}
            sb = {json.dumps(x, sort_keys=True) for x in lb}
            out.append(f"{name}: {len(la)} vs {len(lb)} records" + (
                "; same records, other order" if sa == sb else
                f"; only first: {sorted(sa - sb)[:3]}; only second: {sorted(sb - sa)[:3]}"))
    for key in sorted(set(man_a) | set(man_b)):
        if key in RUN_KEYS:
            continue
        va, vb = man_a.get(key), man_b.get(key)
        if key == "config":
            va, vb = ({k: v for k, v in (va or {}).items() if k not in ("build", "output")},
                      {k: v for k, v in (vb or {}).items() if k not in ("build", "output")})
        if key == "stages":
            va = [{k: v for k, v in s.items() if k != "seconds"} for s in va or []]
            vb = [{k: v for k, v in s.items() if k != "seconds"} for s in vb or []]
        if va != vb:
            out.append(f"manifest {key}: " + _first_difference(va, vb))
    return out


def _first_difference(a, b, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path or 'value'}: {json.dumps(a, default=str)[:200]} != {json.dumps(b, default=str)[:200]}"


def build(config: Path, overrides: list[str], output: Path) -> tuple[float, dict]:
    from trainer.config import load_config
    from trainer.data.build import build_dataset
    from trainer.data.config import DataConfig
    cfg = load_config(config, DataConfig, overrides + [f"output={output}"])
    start = time.perf_counter()
    manifest = build_dataset(cfg, config_path=config).manifest
    return time.perf_counter() - start, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "data" / "reuters-topics.yaml")
    parser.add_argument("--workers", type=int, default=2, help="Ray: concurrent tasks (and CPUs of a local Ray)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("DIR_A", "DIR_B"))
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. source.limit=500")
    args = parser.parse_args()
    if args.compare:
        diffs = compare(*args.compare)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            for engine, extra in (("local", []), ("ray", [f"build.workers={args.workers}"])):
                seconds, manifest = build(args.config, args.overrides + [f"build.engine={engine}"] + extra,
                                          Path(tmp) / engine)
                acc, dedup = manifest["accounting"], manifest["dedup"]
                print(f"{engine}: {seconds:.1f} s; read {acc['read']} = kept {acc['kept']} + rejected "
                      f"{acc['rejected']} + duplicates {acc['deduplicated']}; counts {manifest['counts']}; "
                      f"duplicate groups {dedup['groups']} (exact links {dedup['exact_links']}, near links "
                      f"{dedup['near_links']}, cross-split {len(dedup['cross_split_groups'])})")
                results[engine] = Path(tmp) / engine
            diffs = compare(results["local"], results["ray"])
    for d in diffs:
        print("DIFFERENCE", d)
    print("equivalent: same rows per split, same rejects and duplicates, same manifest decisions"
          if not diffs else f"{len(diffs)} difference(s)")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
