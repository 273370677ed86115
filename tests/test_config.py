"""Run-config loading: errors that name the key and the fix, overrides, `extends:`, every shipped config."""
from pathlib import Path

import pytest
import yaml

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


@pytest.mark.parametrize("override, message", [
    ('train.batch_size="16"', "train.batch_size: Input should be a valid integer (got '16')"),
    ("train.resume=yes", "train.resume: Input should be a valid boolean (got 'yes')"),
    ("train.learning_rate=.inf", "train.learning_rate: must be a finite number"),
    ("train.epochs=.nan", "train.epochs: must be a finite number"),
])
def test_config_values_are_not_coerced(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(None, RunConfig, [override], tree=MINIMAL)
    assert message in str(err.value)


def test_config_yaml_1_2_scalars(tmp_path):
    cfg = _write(tmp_path / "run.yaml", "data: {dataset: d}\ntrain: {learning_rate: 1e-4, resume: true}\n")
    loaded = load_config(cfg, RunConfig, ["train.weight_decay=5e-3"])
    assert (loaded.train.learning_rate, loaded.train.resume, loaded.train.weight_decay) == (1e-4, True, 5e-3)


def test_config_model_keys_of_another_kind_are_refused(tmp_path):
    cfg = _write(tmp_path / "run.yaml", "data: {dataset: d}\nmodel: {type: tfidf-linear, pooling: cls}\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg, RunConfig)
    assert "model.pooling: unknown key for model.type tfidf-linear" in str(err.value)
    with pytest.raises(ConfigError, match="unknown key model.tfidf for model.type transformer"):
        load_config(None, RunConfig, ["model.tfidf.C=3"], tree=MINIMAL)
    tfidf = load_config(None, RunConfig, ["model.type=tfidf-linear", "model.tfidf.C=3"], tree=MINIMAL)
    assert tfidf.model.tfidf.C == 3


def test_config_unknown_model_type_names_the_kinds():
    with pytest.raises(ConfigError, match="unknown model.type; use transformer, tfidf-linear, gazetteer, ensemble or "
                                          "student"):
        load_config(None, RunConfig, ["model.type=bert"], tree=MINIMAL)


def test_config_every_field_is_documented():
    from pydantic import BaseModel

    from trainer.config.explain import _models_in
    from trainer.data.config import DataConfig
    seen, todo = set(), [RunConfig, DataConfig]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            todo += [m for m in _models_in(field.annotation) if issubclass(m, BaseModel)]


def test_config_explain_prints_description_type_and_default():
    from trainer.workflows.validate import explain_key
    text = explain_key("train.epochs")
    assert "Passes over the training split." in text and "type: float" in text and "default: 4" in text
    model = explain_key("model")
    assert "keys with type: transformer" in model and "keys with type: tfidf-linear" in model
    with pytest.raises(ConfigError, match="did you mean 'train.epochs'"):
        explain_key("train.epoch")
    # a mapping of named sections: any name, then that section's keys
    assert "Weight of the member's scores" in explain_key("model.members.minilm.weight")
    assert "Inverse regularisation" in explain_key("model.members.svm.model.tfidf.C")
    with pytest.raises(ConfigError, match="did you mean 'model.members.x.weight'"):
        explain_key("model.members.x.wieght")


def test_config_explain_data_config_keys():
    from trainer.workflows.validate import explain_key
    assert "(data config)" in explain_key("data.dedup.threshold") and "Jaccard" in explain_key("data.dedup.threshold")
    assert "Dataset directory written by" in explain_key("data.dataset")   # the run config's own data section


def test_config_explain_takes_data_config_keys_without_a_prefix():
    from trainer.workflows.validate import explain_key
    text = explain_key("labels.topic.mapping")   # as a data config spells it
    assert text.startswith("(data config)") and "Rename or merge labels" in text
    assert explain_key("data.labels.topic.mapping") == text
    # a key of both kinds: the run config's, and where the other is
    assert "`trainer validate --explain data.output`" in explain_key("output")
    with pytest.raises(ConfigError, match="nor is it a data-config key .*source, labels"):
        explain_key("lables.topic")


def test_config_explain_cli(tmp_path):
    from typer.testing import CliRunner
    from trainer.cli import app
    result = CliRunner().invoke(app, ["validate", "--explain", "eval.at_least_one"])
    assert result.exit_code == 0 and "top-scoring label" in result.output


# ---- relative paths in a config file: taken from its base folder, not the current directory ----
RUN_CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("cwd", ["repo", "elsewhere"])
@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.name)
def test_config_shipped_paths_resolve_from_the_repo_wherever_trainer_runs(path, cwd, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO if cwd == "repo" else tmp_path)
    cfg = load_config(path, RunConfig)
    assert cfg.data.dataset == str(REPO / "data" / "processed" / Path(cfg.data.dataset).name)
    assert cfg.output.dir == str(REPO / "runs")                  # the default too
    if cfg.data.build is None:   # a recipe for the user's own dataset (news-topics.yaml): nothing to build
        return
    assert Path(cfg.data.build).is_file(), cfg.data.build       # the data config is found
    assert cfg.data.build == str(REPO / "configs" / "data" / Path(cfg.data.build).name)
    assert cfg.data.dataset == str(REPO / "data" / "processed" / Path(cfg.data.dataset).name)
    assert cfg.output.dir == str(REPO / "runs")                  # the default too
    from trainer.data.config import DataConfig
    data_cfg = load_config(cfg.data.build, DataConfig)
    assert data_cfg.output == cfg.data.dataset                  # the build writes where the run reads


def test_config_outside_a_configs_folder_resolves_against_its_own_folder(tmp_path, monkeypatch):
    project = tmp_path / "exp"
    project.mkdir()
    _write(project / "run.yaml", "data: {dataset: ds, build: data.yaml}\noutput: {dir: out, predict: [page.txt, "
                                 "'${HOME}/x', /abs/p]}\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(project / "run.yaml", RunConfig, ["output.name=cli-given"])
    assert (cfg.data.dataset, cfg.data.build, cfg.output.dir) == (str(project / "ds"), str(project / "data.yaml"),
                                                                   str(project / "out"))
    assert cfg.output.predict == [str(project / "page.txt"), "${HOME}/x", "/abs/p"]   # $VARS expand later


def test_config_command_line_paths_are_taken_from_the_current_directory_and_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    cfg_file = _write(tmp_path / "configs" / "run.yaml", "data: {dataset: data/d}\n")
    cfg = load_config(cfg_file, RunConfig, ["data.dataset=mine/d", "output.predict=[a.txt, $HOME/b, /abs/c]"])
    assert cfg.data.dataset == str(tmp_path / "here" / "mine" / "d") and cfg.output.dir == str(tmp_path / "runs")
    assert cfg.output.predict == [str(tmp_path / "here" / "a.txt"), "$HOME/b", "/abs/c"]


@pytest.mark.integration   # trains a TF-IDF run
def test_config_run_trained_with_a_relative_override_evaluates_from_elsewhere(tiny_dataset_dir, tmp_path,
                                                                             monkeypatch):
    import shutil

    from typer.testing import CliRunner

    from trainer.cli import app
    shutil.copytree(tiny_dataset_dir, tmp_path / "work" / "ds")
    cfg_file = _write(tmp_path / "lin.yaml", "model: {type: tfidf-linear, tfidf: {min_df: 1}}\n")
    monkeypatch.chdir(tmp_path / "work")
    result = CliRunner().invoke(app, ["train", str(cfg_file), "data.dataset=ds", "output.dir=runs"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "work" / "runs" / "lin"
    recorded = yaml.safe_load((run / "config.yaml").read_text())
    assert (recorded["data"]["dataset"], recorded["output"]["dir"]) == (str(tmp_path / "work" / "ds"),
                                                                        str(tmp_path / "work" / "runs"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output


def test_config_extended_parent_paths_resolve_against_the_parent(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "child").mkdir()
    _write(tmp_path / "shared" / "base.yaml", "data: {dataset: parent-ds}\noutput: {dir: parent-runs}\n")
    child = _write(tmp_path / "child" / "run.yaml", "extends: ../shared/base.yaml\noutput: {dir: child-runs}\n")
    cfg = load_config(child, RunConfig)
    assert cfg.data.dataset == str(tmp_path / "shared" / "parent-ds")
    assert cfg.output.dir == str(tmp_path / "child" / "child-runs")


def test_config_run_directory_config_keeps_its_recorded_paths(tmp_path):
    from trainer.contracts import read_run_config
    run = tmp_path / "runs" / "old"
    run.mkdir(parents=True)
    _write(run / "config.yaml", "data: {dataset: data/processed/x}\n")
    assert read_run_config(run).data.dataset == "data/processed/x"   # cwd-relative, as older runs recorded it


def test_config_run_written_before_per_kind_model_sections_is_read(tmp_path):
    # runs of the first release recorded every kind's model keys; a user config with them is still refused
    from trainer.contracts import read_run_config
    run = tmp_path / "runs" / "old-tfidf"
    run.mkdir(parents=True)
    text = "data: {dataset: d}\nmodel: {type: tfidf-linear, max_length: 256, pooling: mean, tfidf: {min_df: 2}}\n"
    _write(run / "config.yaml", text)
    cfg = read_run_config(run)
    assert cfg.model.type == "tfidf-linear" and cfg.model.tfidf.min_df == 2
    with pytest.raises(ConfigError, match="model.max_length: unknown key for model.type tfidf-linear"):
        load_config(_write(tmp_path / "user.yaml", text), RunConfig)


def test_config_missing_data_build_names_the_key(tmp_path):
    from trainer.data.dataset_io import resolve_dataset_dir
    (tmp_path / "configs").mkdir()
    cfg = load_config(_write(tmp_path / "configs" / "run.yaml", "data: {dataset: data/d, build: configs/nope.yaml}\n"),
                      RunConfig)
    with pytest.raises(ConfigError) as err:
        resolve_dataset_dir(cfg.data)
    assert "data.build" in str(err.value) and str(tmp_path / "configs" / "nope.yaml") in str(err.value)


@pytest.mark.integration
def test_config_train_cli_from_another_folder_finds_the_dataset(tiny_dataset_dir, tmp_path, monkeypatch):
    """`trainer train /abs/path/configs/x.yaml` run elsewhere: data and runs go where the config says."""
    import shutil

    from typer.testing import CliRunner

    from trainer.cli import app
    project = tmp_path / "project"
    shutil.copytree(tiny_dataset_dir, project / "data" / "tiny")
    (project / "configs").mkdir()
    _write(project / "configs" / "lin.yaml", "data: {dataset: data/tiny}\nmodel: {type: tfidf-linear, tfidf: "
                                            "{min_df: 1}}\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = CliRunner().invoke(app, ["train", str(project / "configs" / "lin.yaml")])
    assert result.exit_code == 0, result.output
    assert (project / "runs" / "lin" / "metrics.json").is_file()
    assert not (tmp_path / "elsewhere" / "runs").exists()


def test_config_switching_model_type_on_the_command_line_drops_the_other_kinds_keys(capsys):
    """`trainer train configs/scraped-topic-minilm.yaml model.type=tfidf-linear`: the transformer keys go,
    one notice (trainer.events) says which; the switch back works too, and keys given after the switch are
    checked against the new kind. The loader prints nothing itself."""
    events = []
    cfg = load_config(REPO / "configs" / "scraped-topic-minilm.yaml", RunConfig, ["model.type=tfidf-linear"],
                      progress=events.append)
    assert cfg.model.type == "tfidf-linear"
    assert events == [{"event": "notice", "message": "model.type=tfidf-linear: dropped the transformer keys "
                       "model.name, model.max_length, model.truncation, model.pooling, model.prior_bias"}]
    back = load_config(REPO / "configs" / "reuters-topics-tfidf.yaml", RunConfig,
                       ["model.type=transformer", "model.max_length=64"], progress=events.append)
    assert back.model.type == "transformer" and back.model.max_length == 64
    assert "dropped the tfidf-linear keys model.tfidf" in events[-1]["message"]
    with pytest.raises(ConfigError, match="unknown key model.max_length for model.type tfidf-linear"):
        load_config(REPO / "configs" / "scraped-topic-minilm.yaml", RunConfig,
                    ["model.type=tfidf-linear", "model.max_length=64"], progress=events.append)
    # the same kind again changes nothing, and says nothing
    events.clear()
    same = load_config(REPO / "configs" / "scraped-topic-minilm.yaml", RunConfig, ["model.type=transformer"],
                       progress=events.append)
    assert same.model.max_length == 256 and events == []
    assert capsys.readouterr().err == ""


def test_config_switching_model_type_in_the_cli_says_so_on_stderr(tmp_path):
    """`trainer train CONFIG model.type=tfidf-linear`: the notice reaches stderr through the console."""
    from typer.testing import CliRunner

    from trainer.cli import app
    config = tmp_path / "run.yaml"
    config.write_text("data: {dataset: missing}\nmodel: {type: transformer, max_length: 64}\n")
    result = CliRunner().invoke(app, ["train", str(config), "model.type=tfidf-linear"])
    assert "model.type=tfidf-linear: dropped the transformer keys model.max_length" in result.stderr
    assert result.exit_code == 1 and "Traceback" not in result.output   # the missing dataset, in one line
