"""Run-config loading: errors that name the key and the fix, overrides, `extends:`, every shipped config."""
from pathlib import Path

import pytest

from trainer.config import load_config
from trainer.workflows.validate import validate_file
from trainer.errors import ConfigError
from trainer.config import RunConfig

REPO = Path(__file__).resolve().parents[1]
MINIMAL = {"data": {"dataset": "data/processed/x"}}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_config_unknown_key_suggests_nearest(tmp_path):
    cfg = _write(tmp_path / "run.yaml", "data: {dataset: d}\ntrain: {learning_rat: 0.1}\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg, RunConfig)
    msg = str(err.value)
    assert str(cfg) in msg and "train.learning_rat" in msg and "did you mean 'learning_rate'" in msg


def test_config_bad_type_names_path_and_value(tmp_path):
    cfg = _write(tmp_path / "run.yaml", "data: {dataset: d}\ntrain: {batch_size: many}\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg, RunConfig)
    assert "train.batch_size" in str(err.value) and "'many'" in str(err.value)


def test_config_override_unknown_key_is_refused():
    with pytest.raises(ConfigError) as err:
        load_config(None, RunConfig, ["train.epoch=3"], tree=MINIMAL)
    assert "train.epoch" in str(err.value) and "train.epochs" in str(err.value)


def test_config_override_without_equals_is_refused():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, RunConfig, ["train.epochs"], tree=MINIMAL)


def test_config_override_sets_typed_values():
    cfg = load_config(None, RunConfig, ["train.epochs=2", "model.max_length=128", "data.build=null"], tree=MINIMAL)
    assert (cfg.train.epochs, cfg.model.max_length, cfg.data.build) == (2, 128, None)


def test_config_extends_merges_parent_sections(tmp_path):
    _write(tmp_path / "base.yaml", "data: {dataset: d}\ntrain: {epochs: 7, batch_size: 4}\nmodel: {max_length: 64}\n")
    child = _write(tmp_path / "child.yaml", "extends: base.yaml\ntrain: {epochs: 2}\n")
    cfg = load_config(child, RunConfig)
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.model.max_length) == (2, 4, 64)


def test_config_needs_a_dataset_or_build():
    with pytest.raises(ConfigError, match="data.dataset"):
        load_config(None, RunConfig, tree={"data": {}})


def test_config_single_label_column_needs_single_label_problem():
    with pytest.raises(ConfigError, match="single_label"):
        load_config(None, RunConfig, tree={**MINIMAL, "task": {"target": "topic"}})


@pytest.mark.parametrize("path", sorted((REPO / "configs").rglob("*.yaml")), ids=lambda p: str(p.relative_to(REPO)))
def test_config_every_shipped_config_validates(path):
    assert validate_file(path) in ("data", "run")


def test_config_shipped_run_configs_start_with_their_command():
    for path in sorted((REPO / "configs").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# trainer train ") or first.startswith("# torchrun"), path
