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
import sys
import tempfile
import time
from pathlib import Path

from trainer.data.dataset_diff import dataset_differences

REPO = Path(__file__).resolve().parents[1]


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
        diffs = dataset_differences(*args.compare)
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
            diffs = dataset_differences(results["local"], results["ray"])
    for d in diffs:
        print("DIFFERENCE", d)
    print("equivalent: same rows per split, same rejects and duplicates, same manifest decisions"
          if not diffs else f"{len(diffs)} difference(s)")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
