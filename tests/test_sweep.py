"""trainer sweep: grid parsing, run names, one run per combination, failures do not stop the others."""
from __future__ import annotations

import pytest
import yaml

from trainer.errors import ConfigError
from trainer.workflows.sweep import grid_point_name, parse_grid, sweep


@pytest.fixture
def base_config(tiny_dataset_dir, tmp_path):
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(tmp_path / "runs")}}
    path = tmp_path / "tiny-tfidf.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def test_sweep_parse_grid_reads_yaml_values():
    grid = parse_grid(["model.tfidf.C=0.1,1", "model.tfidf.classifier=svm,logreg", "output.predict=[a, b],[]"])
    assert grid == {"model.tfidf.C": [0.1, 1], "model.tfidf.classifier": ["svm", "logreg"],
                    "output.predict": [["a", "b"], []]}


def test_sweep_parse_grid_refuses_a_key_without_values():
    with pytest.raises(ConfigError, match="key=v1,v2"):
        parse_grid(["model.tfidf.C"])


def test_sweep_run_name_is_stem_plus_values():
    assert grid_point_name("base", {"model.tfidf.C": 0.1, "train.seed": 3}) == "base_C-0.1_seed-3"
    # two keys with the same last part are told apart by their full dotted key
    assert grid_point_name("b", {"a.x": 1, "c.x": 2}) == "b_a.x-1_c.x-2"


def test_sweep_refuses_an_unknown_grid_key_before_training(base_config):
    calls = []
    with pytest.raises(ConfigError, match="unknown key"):
        sweep(base_config, {"model.tfidf.CC": [1, 2]}, train_fn=lambda cfg, path: calls.append(cfg))
    assert calls == []


def test_sweep_refuses_values_that_give_the_same_run_name(base_config):
    calls = []
    with pytest.raises(ConfigError, match="same run name"):
        sweep(base_config, {"output.predict": [["a b"], ["ab"]]}, train_fn=lambda cfg, path: calls.append(cfg))
    assert calls == []


def test_sweep_trains_every_combination_in_its_own_directory(base_config):
    seen = []

    def fake_train(cfg, path):
        seen.append((cfg.model.tfidf.C, cfg.train.seed, cfg.output.name))
        return cfg.output.dir + "/" + cfg.output.name

    result = sweep(base_config, {"model.tfidf.C": [0.5, 2.0], "train.seed": [1, 2]}, train_fn=fake_train)
    assert len(result.completed) == 4 and not result.failed
    assert sorted(s[:2] for s in seen) == [(0.5, 1), (0.5, 2), (2.0, 1), (2.0, 2)]
    assert len({s[2] for s in seen}) == 4


@pytest.mark.integration   # fits TF-IDF models for real
def test_sweep_failed_run_is_reported_and_others_complete(base_config):
    # min_df 1000 leaves no vocabulary on the tiny dataset: that run fails, the other trains for real
    result = sweep(base_config, {"model.tfidf.min_df": [1000, 1]})
    assert [r.name for r in result.failed] == ["tiny-tfidf_min_df-1000"]
    assert "min_df" in result.failed[0].error
    (done,) = result.completed
    assert (done.run_dir / "metrics.json").is_file() and done.run_dir.name == "tiny-tfidf_min_df-1"


def test_sweep_unexpected_exception_does_not_stop_the_sweep(base_config):
    def flaky(cfg, path):
        if cfg.train.seed == 1:
            raise RuntimeError("boom")
        return cfg.output.name

    result = sweep(base_config, {"train.seed": [1, 2]}, train_fn=flaky)
    assert result.failed[0].error == "RuntimeError: boom" and result.failed[0].traceback
    assert [r.name for r in result.completed] == ["tiny-tfidf_seed-2"]


@pytest.mark.integration   # fits TF-IDF models for real
def test_sweep_cli_exits_nonzero_when_a_run_failed(base_config):
    from typer.testing import CliRunner

    from trainer.cli import app
    result = CliRunner().invoke(app, ["sweep", str(base_config), "--grid", "model.tfidf.min_df=1000,1"])
    assert result.exit_code == 1
    assert "FAILED tiny-tfidf_min_df-1000" in result.output and "1 of 2 runs completed" in result.output
    assert "tiny-tfidf_min_df-1 " in result.output   # the comparison table of the completed run


def test_sweep_cli_shows_the_traceback_of_an_unexpected_failure(base_config, monkeypatch):
    from typer.testing import CliRunner

    from trainer.cli import app
    from trainer.workflows import train as lifecycle

    def broken(cfg, path, **kwargs):   # the CLI passes progress= and loop_output=
        raise RuntimeError("boom")
    monkeypatch.setattr(lifecycle, "train", broken)
    result = CliRunner().invoke(app, ["sweep", str(base_config), "--grid", "train.seed=1"])
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output and "in broken" in result.output
