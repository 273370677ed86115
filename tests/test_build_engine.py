"""build.engine: ray writes the dataset the local build writes, on a Ray started in-process (~20 s in all)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from trainer.config import load_config
from trainer.data.build import build_dataset
from trainer.data.config import DataConfig
from trainer.data.dataset_diff import dataset_differences
from trainer.errors import DataError

pytestmark = pytest.mark.integration   # starts a Ray instance (worker processes)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "data"


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (starting one costs ~7 s); the builds join it instead of starting their own."""
    import ray
    if os.environ.get("RAY_ADDRESS"):
        pytest.fail("RAY_ADDRESS is set: these tests start a local Ray and must not use a cluster")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 << 20)
    yield ray
    ray.shutdown()


def _both(config: Path, overrides: list[str], tmp_path: Path) -> tuple[dict, dict]:
    """Build with each engine; return both manifests."""
    out = {}
    for engine in ("local", "ray"):
        cfg = load_config(config, DataConfig, overrides + [f"build.engine={engine}", f"output={tmp_path / engine}",
                                                           "build.batch_size=100", "build.workers=2"])
        out[engine] = build_dataset(cfg).manifest
    return out["local"], out["ray"]


def _same(tmp_path: Path) -> None:
    assert dataset_differences(tmp_path / "local", tmp_path / "ray") == []


@pytest.mark.slow   # Ray workers over Reuters (~1 min): CI's slow pass
def test_ray_engine_equals_local_build_on_reuters(local_ray, reuters_archive, tmp_path):
    """A few hundred Reuters documents, ModApte split, exact and near duplicates, and a reviewed list of label
    corrections (labels.corrections, applied by the driver whatever the engine): same rows, rejects, duplicate
    groups, splits and corrections, read from the archive's members on Ray workers."""
    corrections = tmp_path / "corrections.yaml"
    corrections.write_text("reuters-5: [crude, ship]\nreuters-10: drop\n", encoding="utf-8")
    local, ray_ = _both(CONFIGS / "reuters-topics.yaml",
                        [f"source.path={reuters_archive}", "source.limit=700", "labels.topic.require_in_test=false",
                         "split.validation_size=0.1", f"labels.corrections={corrections}"], tmp_path / "out")
    _same(tmp_path / "out")
    assert local["corrections"] == ray_["corrections"]
    assert {c["id"]: c["action"] for c in ray_["corrections"]["changes"]} == {"reuters-5": "relabelled",
                                                                             "reuters-10": "dropped"}
    assert ray_["engine"]["name"] == "ray" and ray_["engine"]["tasks"] >= 1
    assert local["accounting"]["read"] == ray_["accounting"]["read"] == 700     # source.limit, applied in order
    assert local["accounting"]["balanced"] and local["counts"]["train"] > 0


def _pages(root: Path) -> Path:
    """Two outlets of generated pages, near copies of some pages in a third, a binary file, an empty one."""
    from trainer.data.synthetic import write_pages
    write_pages(root / "sputnik", 120, "sputnik", seed=1)
    write_pages(root / "planet", 60, "planet", seed=2)
    copies = root / "copies"
    copies.mkdir()
    for page in sorted((root / "sputnik").iterdir())[:25]:
        copies.joinpath(page.name).write_text(page.read_text().replace(" said ", " stated ", 1))
    (root / "planet" / "broken.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (root / "planet" / "empty.txt").write_text("  \n")
    return root


@pytest.mark.slow   # Ray workers (~25 s): CI's slow pass
def test_ray_engine_equals_local_build_on_scraped_pages(local_ray, tmp_path):
    pages = _pages(tmp_path / "pages")
    local, ray_ = _both(CONFIGS / "scraped.yaml", [f"source.path={pages}", "labels.topic.min_count=1"], tmp_path / "out")
    _same(tmp_path / "out")
    assert local["dedup"]["near_links"] >= 10 and local["accounting"]["deduplicated"] >= 10
    assert {"binary content (NUL bytes)", "empty file"} <= set(local["rejected"])
    duplicates = [json.loads(l) for l in (tmp_path / "out" / "ray" / "duplicates.jsonl").read_text().splitlines()]
    assert duplicates and all(d["duplicate_of"].startswith("copies/") for d in duplicates)   # copies/ is read first
    cleaning = json.loads((tmp_path / "out" / "ray" / "cleaning.json").read_text())   # compared by _same
    assert "Share on Twitter" in cleaning["outlets"]["planet"] and "Get short URL" in cleaning["outlets"]["sputnik"]


@pytest.mark.slow   # a Ray start (~10 s): CI's slow pass
def test_ray_engine_stops_on_a_column_no_file_has(local_ray, tmp_path):
    """A mapping error found on the workers stops the build as it does locally, and leaves no output."""
    (tmp_path / "in.jsonl").write_text(json.dumps({"body": "oil prices rose", "topics": ["crude"]}) + "\n")
    cfg = DataConfig.model_validate({"source": {"kind": "jsonl", "path": str(tmp_path / "in.jsonl")},
                                     "labels": {"region": None}, "build": {"engine": "ray"},
                                     "output": str(tmp_path / "ds")})
    with pytest.raises(DataError, match="source.columns.body"):
        build_dataset(cfg)
    assert not (tmp_path / "ds").exists()


def test_cli_engine_flag_selects_ray(tmp_path, monkeypatch):
    """--engine/--workers are build.engine/build.workers (the Ray build itself is tested above, without the
    CLI: a second Ray Data pipeline here would cost ~14 s of worker start-up)."""
    from typer.testing import CliRunner

    import trainer.data.build as build_module
    from trainer.cli import app
    seen = {}

    def fake_build(cfg, **kwargs):
        seen.update(engine=cfg.build.engine, workers=cfg.build.workers)
        raise DataError("stop here")
    monkeypatch.setattr(build_module, "build_dataset", fake_build)
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": "oil prices rose", "topics": ["crude"]}) + "\n")
    config = tmp_path / "data.yaml"
    config.write_text(json.dumps({"source": {"kind": "jsonl", "path": str(tmp_path / "in.jsonl"),
                                             "columns": {"topics": "topics"}},
                                  "labels": {"region": None}, "output": str(tmp_path / "ds")}))
    result = CliRunner().invoke(app, ["data", "build", str(config), "--engine", "ray", "--workers", "2"])
    assert result.exit_code == 1 and "stop here" in result.output
    assert seen == {"engine": "ray", "workers": 2}
