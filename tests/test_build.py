"""The dataset builder: stages, accounting, label filtering, atomic output, CLI errors, real Reuters."""
from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from trainer.cli import app
from trainer.data.article import Article, Rejected
from trainer.data.build import build_dataset
from trainer.data.config import DataConfig
from trainer.data.dataset_io import load_dataset_dir

REPO = Path(__file__).resolve().parents[1]

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "data"
VOCAB = "oil wheat bank rates profit shares tonnes yen exports talks quarter deficit".split()


def _body(rng: random.Random, n: int = 60) -> str:
    return " ".join(f"{rng.choice(VOCAB)}{rng.randint(0, 99)}" for _ in range(n))


def _articles(n: int = 120, seed: int = 0, split: bool = False) -> list[Article]:
    rng = random.Random(seed)
    topics = [["earn"], ["acq"], ["crude"], ["earn", "acq"]]
    return [Article(id=f"d{i}", source="test", title=f"Title {i}", body=_body(rng), topics=topics[i % 4],
                    places=["usa"], published=f"2020-01-{1 + i % 28:02d}", path=f"in.txt#{i}",
                    split=("train" if i % 3 else "test") if split else None) for i in range(n)]


def _cfg(**sections) -> DataConfig:
    tree = {"source": {"kind": "jsonl"}, "labels": {"region": None}, "split": {"kind": "random"}}
    for key, value in sections.items():
        tree[key] = {**tree.get(key, {}), **value} if isinstance(value, dict) else value
    return DataConfig.model_validate(tree)


def _build(tmp_path, articles, **sections):
    result = build_dataset(_cfg(**sections), articles=articles, output=tmp_path / "ds")
    return result, *load_dataset_dir(tmp_path / "ds")


def test_build_writes_contract_columns_and_manifest(tmp_path):
    result, dsd, manifest = _build(tmp_path, _articles())
    assert set(dsd) == {"train", "validation", "test"}
    assert dsd["train"].column_names == ["id", "title", "text", "topics", "published", "source"]
    assert manifest["labels"]["topics"] == ["acq", "crude", "earn"]
    assert manifest["counts"] == {s: len(dsd[s]) for s in dsd}
    assert dsd["train"][0]["text"].startswith(dsd["train"][0]["title"] + "\n\n")
    assert "wrote" in result.summary()


def test_build_accounting_holds_with_rejects_and_duplicates(tmp_path):
    arts = _articles(60)
    arts[5].body, arts[5].title = "", ""                       # empty text
    arts[6].topics = []                                         # no topic
    dup = Article(id="copy", source="test", title=arts[0].title, body=arts[0].body.upper(), topics=["earn"])
    items = arts + [dup, Rejected("broken.txt", "undecodable bytes")]
    _, dsd, manifest = _build(tmp_path, items)
    acc = manifest["accounting"]
    assert acc["read"] == 62 == acc["kept"] + acc["rejected"] + acc["deduplicated"]
    assert acc["kept"] == sum(len(dsd[s]) for s in dsd)
    assert manifest["rejected"] == {"empty text": 1, "no topic label": 1, "undecodable bytes": 1}
    assert acc["deduplicated"] == 1
    rejects = [json.loads(l) for l in (tmp_path / "ds" / "rejects.jsonl").read_text().splitlines()]
    assert {"input": "broken.txt", "reason": "undecodable bytes"} in rejects


def _near_copies(arts: list[Article]) -> list[Article]:
    """A copy of each article that differs by a suffix: a near duplicate, not an exact one."""
    return [Article(id=f"c{a.id}", source="test", title=a.title, body=a.body + " reuter", topics=a.topics,
                    split=a.split) for a in arts]


def test_build_random_split_removes_near_copies_before_splitting(tmp_path):
    arts = _articles(90)
    _, dsd, manifest = _build(tmp_path, arts + _near_copies(arts[:30]))
    duplicates = [json.loads(l) for l in (tmp_path / "ds" / "duplicates.jsonl").read_text().splitlines()]
    assert {(d["id"], d["duplicate_of"]) for d in duplicates} == {(f"cd{i}", f"d{i}") for i in range(30)}
    assert manifest["accounting"]["deduplicated"] == 30 and manifest["dedup"]["near_links"] == 30
    assert not any(i.startswith("c") for s in dsd for i in dsd[s]["id"])


def test_build_validation_carve_out_keeps_duplicate_groups_together(tmp_path):
    """A predefined split keeps its duplicates, so groups reach the splitter in the validation
    carve-out: each near copy must land in the split of its original (train or validation)."""
    arts = [a for a in _articles(120, split=True) if a.split == "train"][:60]
    _, dsd, manifest = _build(tmp_path, arts + _near_copies(arts[:30]),
                              split={"kind": "predefined", "validation_size": 0.3})
    split_of = {i: s for s in dsd for i in dsd[s]["id"]}
    originals = [a.id for a in arts[:30]]
    assert manifest["dedup"]["groups"] == 30 and len(split_of) == 90
    assert {split_of[i] for i in originals} == {"train", "validation"}   # groups on both sides
    assert [i for i in originals if split_of[f"c{i}"] != split_of[i]] == []


def test_build_predefined_rejects_documents_outside_the_split(tmp_path):
    arts = _articles(30, split=True)
    arts[0].split = None
    _, dsd, manifest = _build(tmp_path, arts, split={"kind": "predefined", "validation_size": 0})
    assert manifest["rejected"] == {"outside predefined split": 1}
    assert len(dsd["test"]) == sum(a.split == "test" for a in arts)
    assert manifest["stages"][2]["stage"] == "in_predefined_split"


def test_build_predefined_reports_and_optionally_drops_cross_split_duplicates(tmp_path):
    arts = _articles(30, split=True)
    train, test = arts[1], arts[0]
    test.body, test.title = train.body, train.title
    _, _, kept = _build(tmp_path, arts, split={"kind": "predefined"})
    assert kept["dedup"]["cross_split_groups"] == [["d0", "d1"]]
    assert kept["accounting"]["deduplicated"] == 0
    _, dsd, dropped = _build(tmp_path, arts, split={"kind": "predefined", "drop_cross_split_duplicates": True})
    assert dropped["dedup"]["cross_split_dropped"] == ["d0"]
    assert "d0" not in dsd["test"]["id"]


def test_build_min_count_drops_rare_training_labels(tmp_path):
    arts = _articles(60)
    arts[0].topics = ["earn", "rare"]
    result, dsd, manifest = _build(tmp_path, arts, labels={"topic": {"min_count": 2}, "region": None})
    assert "rare" not in manifest["labels"]["topics"]
    # the manifest says why: the rule (config key), its threshold and the label's counts
    assert manifest["labels_dropped"]["topics"] == [
        {"label": "rare", "documents": 1, "train": int("d0" in dsd["train"]["id"]),
         "test": int("d0" in dsd["test"]["id"]), "rule": "labels.topic.min_count", "threshold": 2,
         "reason": manifest["labels_dropped"]["topics"][0]["reason"]}]
    assert "fewer than labels.topic.min_count 2" in manifest["labels_dropped"]["topics"][0]["reason"]
    assert "labels.topic.min_count 2 dropped 1 label: rare" in result.summary()


def test_build_require_in_test_keeps_labels_seen_in_both(tmp_path):
    arts = _articles(30, split=True)
    only_train = [a for a in arts if a.split == "train"][:3]
    for a in only_train:
        a.topics = ["trainonly"]
    _, dsd, manifest = _build(tmp_path, arts, split={"kind": "predefined"},
                              labels={"topic": {"require_in_test": True}, "region": None})
    assert "trainonly" not in manifest["labels"]["topics"]
    assert manifest["rejected"] == {"no topic label left after label filtering (min_count / require_in_test)": 3}
    assert [(d["label"], d["train"], d["test"], d["rule"]) for d in manifest["labels_dropped"]["topics"]] == [
        ("trainonly", 3, 0, "labels.topic.require_in_test")]


def test_build_says_which_labels_each_rule_drops_and_why(tmp_path):
    from rich.console import Console

    from trainer.console.stages import StageLog
    arts = _articles(60)
    arts[0].topics = ["earn", "rare"]
    log = StageLog(Console(file=io.StringIO(), width=200, color_system=None))
    events = []
    result = build_dataset(_cfg(labels={"topic": {"min_count": 2}, "region": None}), articles=arts,
                           output=tmp_path / "ds", progress=events.append)
    filtered = next(e for e in events if e["stage"] == "label_filtered" and e["done"])
    assert filtered["labels_dropped"] == result.manifest["labels_dropped"]
    for event in events:
        log(event)
    text = log.console.file.getvalue()
    line = next(line for line in text.splitlines() if "dropped" in line)
    assert "topics: labels.topic.min_count 2 dropped 1 label: rare (1 training document" in line
    assert text.index("labels kept") < text.index(line) < text.index("written")


def test_build_names_regions_seen_in_no_training_document(tmp_path):
    arts = _articles(60, split=True)
    test_only = next(a for a in arts if a.split == "test")
    test_only.places = ["usa", "japan"]
    _, _, manifest = _build(tmp_path, arts, split={"kind": "predefined"},
                            labels={"region": {"granularity": "country"}})
    dropped = manifest["labels_dropped"]["regions"]
    assert [(d["train"], d["test"], d["rule"]) for d in dropped] == [(0, 1, "regions seen in training")]
    assert dropped[0]["label"] not in manifest["labels"]["regions"]


def test_build_single_label_topic_column(tmp_path):
    _, dsd, manifest = _build(tmp_path, _articles(60), labels={"topic": {"multi_label": False}, "region": None})
    assert "topic" in dsd["train"].column_names and "topics" not in dsd["train"].column_names
    assert manifest["rejected"] == {"several topic labels (single-label dataset)": 15}
    assert manifest["problem"] == "single_label"


def test_build_region_labels_without_topics(tmp_path):
    arts = _articles(40)
    arts[3].places = []
    _, dsd, manifest = _build(tmp_path, arts, labels={"topic": None, "region": {"fields": ["places"], "from_text": "never"}})
    assert "topics" not in dsd["train"].column_names
    assert all(dsd["train"]["regions"])
    assert manifest["rejected"] == {"no region label": 1}


def test_build_without_training_documents_is_a_user_error(tmp_path):
    from trainer.errors import DataError
    with pytest.raises(DataError, match="no training documents"):
        build_dataset(_cfg(labels={"topic": {"min_count": 1000}, "region": None}), articles=_articles(),
                      output=tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_build_failure_leaves_no_output_and_no_temp_dir(tmp_path, monkeypatch):
    """Spill shards and half-written splits live in the output's temporary folder: all go on failure."""
    from trainer.data.stream import SplitWriter

    def broken_finish(self):
        (tmp_path / "half").write_text("")  # some work happened before the failure
        raise RuntimeError("disk full")
    monkeypatch.setattr(SplitWriter, "finish", broken_finish)
    with pytest.raises(RuntimeError):
        build_dataset(_cfg(), articles=_articles(), output=tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half"]


def test_build_failure_keeps_an_existing_output_intact(tmp_path, monkeypatch):
    from trainer.data.stream import SplitWriter
    _build(tmp_path, _articles())
    before = (tmp_path / "ds" / "manifest.json").read_text()
    monkeypatch.setattr(SplitWriter, "write", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build_dataset(_cfg(), articles=_articles(seed=9), output=tmp_path / "ds")
    assert (tmp_path / "ds" / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_build_is_deterministic(tmp_path):
    _, a, _ = _build(tmp_path / "a", _articles())
    _, b, _ = _build(tmp_path / "b", _articles())
    assert all(a[s]["id"] == b[s]["id"] for s in a)


def test_build_cli_unknown_config_key_names_the_nearest(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"source": {"kind": "jsonl"}, "dedupe": {"exact": True}}))
    result = CliRunner().invoke(app, ["data", "build", str(config)])
    assert result.exit_code == 1
    assert "did you mean 'dedup'" in result.output
    assert "Traceback" not in result.output


def test_build_cli_unknown_override_names_the_nearest(tmp_path):
    config = tmp_path / "ok.yaml"
    config.write_text(yaml.safe_dump({"source": {"kind": "jsonl"}}))
    result = CliRunner().invoke(app, ["data", "build", str(config), "split.seeed=3"])
    assert result.exit_code == 1
    assert "split.seed" in result.output and "Traceback" not in result.output


def test_build_cli_jsonl_end_to_end(tmp_path):
    rng = random.Random(1)
    rows = [{"title": f"Title {i}", "text": _body(rng), "topics": [["earn"], ["acq"], ["crude"]][i % 3],
             "places": ["japan"]} for i in range(60)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    config = tmp_path / "data.yaml"
    config.write_text(yaml.safe_dump({"source": {"kind": "jsonl", "path": str(tmp_path / "in.jsonl"),
                                                 "columns": {"topics": "topics", "places": "places"}},
                                      "output": str(tmp_path / "ds")}))
    runner = CliRunner()
    built = runner.invoke(app, ["data", "build", str(config), "split.seed=5"])
    assert built.exit_code == 0, built.output
    _, manifest = load_dataset_dir(tmp_path / "ds")
    assert manifest["accounting"] == {"read": 61, "kept": 60, "rejected": 1, "deduplicated": 0, "balanced": True}
    assert manifest["inputs"][0]["sha256"] and manifest["config"]["split"]["seed"] == 5
    assert runner.invoke(app, ["data", "inspect", str(tmp_path / "ds")]).exit_code == 0


@pytest.mark.slow   # the whole Reuters corpus (~12 s): CI's slow pass
def test_build_real_reuters_modapte_90(tmp_path, reuters_archive):
    """Whole corpus, near-duplicate detection on: about 10-20 s on 2 cores (scripts/bench_build.py)."""
    from trainer.config import load_config
    cfg = load_config(CONFIGS / "reuters-topics.yaml", DataConfig,
                      [f"source.path={reuters_archive}", f"output={tmp_path / 'reuters'}"])
    manifest = build_dataset(cfg).manifest
    in_split = next(s for s in manifest["stages"] if s["stage"] == "in_predefined_split")
    assert in_split["by_split"] == {"test": 3299, "train": 9603}
    assert len(manifest["labels"]["topics"]) == 90
    assert manifest["counts"]["train"] + manifest["counts"]["validation"] in (7769, 7770)
    assert manifest["counts"]["test"] == 3019
    assert manifest["accounting"]["read"] == 21578 and manifest["accounting"]["balanced"]


def test_build_scraped_config_labels_the_sample_page(tmp_path, scraped_sample_dir):
    """The shipped scraped config, on the sample page among generated pages of the same outlet."""
    import shutil

    from trainer.config import load_config
    from trainer.data.synthetic import write_pages

    pages = tmp_path / "pages" / "sputnik"
    write_pages(pages, 60, layout="sputnik", seed=3)
    sample = next(p for p in sorted(scraped_sample_dir.iterdir()) if p.is_file())
    shutil.copy(sample, pages / sample.name)
    cfg = load_config(REPO / "configs" / "data" / "scraped.yaml", DataConfig,
                      [f"source.path={tmp_path / 'pages'}", f"output={tmp_path / 'out'}", "labels.topic.min_count=1"])
    build_dataset(cfg)
    dsd, _ = load_dataset_dir(tmp_path / "out")
    rows = [r for split in dsd.values() for r in split if r["id"].endswith(sample.stem)]
    assert len(rows) == 1
    assert rows[0]["topic"] == "Military & Intelligence"
    assert sorted(rows[0]["regions"]) == ["Central Asia", "Eastern Europe", "Southern Asia"]
