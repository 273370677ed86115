"""`trainer train` with the transformer kind: resume, the tokenization cache, the optimizer, the sampler, the CLI.
(What every kind's run directory holds is tested in test_kind_conformance.py.)"""
import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from conftest import make_tiny_dataset, tiny_run_tree
from trainer import contracts
from trainer.config import RunConfig, load_config
from trainer.data import dataset_io
from trainer.data.label_space import LabelSpace, check_target, label_space
from trainer.errors import ConfigError, DataError
from trainer.models.transformer import tokenized as tokenization
from trainer.workflows.train import train


def tiny_cfg(dataset_dir, out_dir, name="tiny", **train_overrides) -> RunConfig:
    tree = tiny_run_tree(dataset_dir, out_dir, name)
    tree["train"].update(train_overrides)
    return load_config(None, RunConfig, tree=tree)


class Observer(TrainerCallback):
    """Records what the run directory held when training began, and the model as training ended."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.config_at_begin, self.model = run_dir, None, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.config_at_begin = (self.run_dir / contracts.CONFIG).is_file()

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.model = model


@pytest.fixture(scope="module")
def observed(tiny_dataset_dir, tmp_path_factory):
    from trainer.models.transformer import fitting
    cfg = tiny_cfg(tiny_dataset_dir, tmp_path_factory.mktemp("runs"), "observed", max_steps=6, eval_every=3)
    observer = Observer(Path(cfg.output.dir) / ".observed.partial")   # the run trains in its staging folder
    make = fitting.make_trainer

    def make_observed(*args, **kwargs):   # the fit context carries no TrainerCallback: added inside the kind
        trainer, meter = make(*args, **kwargs)
        trainer.add_callback(observer)
        return trainer, meter
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fitting, "make_trainer", make_observed)
        return train(cfg), observer


def test_train_log_has_losses_and_evaluations(tiny_run_dir):
    rows = [json.loads(line) for line in (tiny_run_dir / "train_log.jsonl").read_text().splitlines()]
    assert any("loss" in r and "learning_rate" in r for r in rows)
    assert any("eval_micro_f1" in r for r in rows)
    assert all("step" in r for r in rows)


def test_train_tiny_model_learns_the_keywords(tiny_run_dir):
    # the test split at the plain 0.5 cut: nothing was tuned on it. Predicting every label scores ~0.46 there.
    test = contracts.read_metrics(tiny_run_dir)["topics"]["test"]
    assert test["at_0.5"]["micro_f1"] > 0.7


@pytest.mark.integration
def test_train_writes_config_before_training_starts(observed):
    _, observer = observed
    assert observer.config_at_begin is True


@pytest.mark.integration
def test_train_saved_model_predicts_like_the_trained_one(observed):
    from trainer.models.transformer.network import load_network
    from trainer.models.transformer.text import encode
    run_dir, observer = observed
    loaded, tokenizer = load_network(run_dir / "model")
    settings = contracts.read_spec(run_dir / "model").settings
    enc = encode(tokenizer, ["Paris: wheat harvest and oil prices", "Tokyo: trade deficit widened"],
                 settings["max_length"], settings["truncation"])
    batch = tokenizer.pad(enc, return_tensors="pt")
    observer.model.eval()
    with torch.no_grad():
        assert torch.equal(loaded(**batch).logits, observer.model(**batch).logits)


def test_train_tokenization_is_cached_by_settings(tiny_dataset_dir, tmp_path, minilm_dir, monkeypatch):
    from transformers import AutoTokenizer
    from trainer.data.dataset_io import load_dataset_dir
    dataset_dir = shutil.copytree(tiny_dataset_dir, tmp_path / "dataset", ignore=shutil.ignore_patterns(".cache"))
    dsd, _ = load_dataset_dir(dataset_dir)
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    space = label_space(dsd["train"], "topics", "multi_label", 1)
    calls = []
    real = tokenization.encode_for_training
    monkeypatch.setattr(tokenization, "encode_for_training", lambda *a, **k: calls.append(1) or real(*a, **k))

    first = tokenization.tokenize_splits(dsd, dataset_dir, tok, [space], 64, "head")
    n_first = len(calls)
    again = tokenization.tokenize_splits(dsd, dataset_dir, tok, [space], 64, "head")
    assert n_first > 0 and len(calls) == n_first           # second pass read the cache
    assert again["train"]["input_ids"] == first["train"]["input_ids"]
    assert list((dataset_dir / ".cache").glob("tok-train-*.arrow"))
    tokenization.tokenize_splits(dsd, dataset_dir, tok, [space], 32, "head")
    assert len(calls) > n_first                               # another max_length: tokenized again


def test_train_split_rows_carry_labels_and_lengths(tiny_dataset_dir, minilm_dir):
    from transformers import AutoTokenizer
    from trainer.data.dataset_io import load_dataset_dir
    dsd, _ = load_dataset_dir(tiny_dataset_dir)
    space = label_space(dsd["train"], "topics", "multi_label", 1)
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    out = tokenization.tokenize_splits(dsd, tiny_dataset_dir, tok, [space], 64, "head")
    row, source = out["train"][0], dsd["train"][0]
    assert row["length"] == len(row["input_ids"]) and row["id"] == source["id"]
    assert [space.labels[i] for i, v in enumerate(row["labels"]) if v] == sorted(source["topics"])


def test_train_min_label_count_drops_rare_labels(tiny_dataset_dir):
    from trainer.data.dataset_io import load_dataset_dir
    dsd, _ = load_dataset_dir(tiny_dataset_dir)
    # make_tiny_dataset cycles the 3 regions over 40 training rows: 14, 13, 13 examples
    assert label_space(dsd["train"], "regions", "multi_label", 13).labels == [
        "Eastern Asia", "Northern America", "Western Europe"]
    assert label_space(dsd["train"], "regions", "multi_label", 14).labels == ["Eastern Asia"]


def test_train_balanced_weights_favour_rare_labels():
    space = LabelSpace("topics", ["common", "rare"], [50, 5], 100, "multi_label")
    assert space.balanced_weights() == [1.0, 19.0]
    single = LabelSpace("topic", ["x", "y"], [75, 25], 100, "single_label")
    assert single.balanced_weights() == pytest.approx([100 / 150, 100 / 50])


def test_train_unknown_target_column_is_a_config_error(tiny_dataset_dir):
    from trainer.data.dataset_io import load_dataset_dir
    dsd, _ = load_dataset_dir(tiny_dataset_dir)
    with pytest.raises(ConfigError, match="task.target 'sections'.*has no column 'sections'"):
        check_target(dsd, "sections", "multi_label", tiny_dataset_dir)


def test_train_builds_a_missing_dataset_from_data_build(tmp_path, monkeypatch):
    built = []

    def fake_build(data_cfg, config_path=None, progress=None):
        built.append((data_cfg.output, config_path))
        make_tiny_dataset(Path(data_cfg.output))

    import trainer.data.build
    monkeypatch.setattr(trainer.data.build, "build_dataset", fake_build)
    data_cfg = tmp_path / "data.yaml"
    data_cfg.write_text("source: {kind: jsonl, path: x.jsonl}\noutput: somewhere-else\n")
    ref = RunConfig.model_validate({"data": {"dataset": str(tmp_path / "ds"), "build": str(data_cfg)}}).data
    assert dataset_io.resolve_dataset_dir(ref) == tmp_path / "ds"
    assert built == [(str(tmp_path / "ds"), str(data_cfg))]
    dataset_io.resolve_dataset_dir(ref)
    assert len(built) == 1   # present now: not rebuilt


def test_train_missing_dataset_without_build_names_the_fix(tmp_path):
    ref = RunConfig.model_validate({"data": {"dataset": str(tmp_path / "none")}}).data
    with pytest.raises(DataError, match="trainer data build"):
        dataset_io.resolve_dataset_dir(ref)


def test_train_head_learns_faster_than_the_encoder(minilm_dir, tmp_path):
    from transformers import TrainingArguments
    from trainer.models.transformer.hf_trainer import ClassifierTrainer
    from trainer.models.transformer.network import build_classifier
    model = build_classifier(str(minilm_dir), ["a", "b"], "multi_label", random_init=True,
                             encoder_overrides={"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2,
                                                "intermediate_size": 64})
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-4, weight_decay=0.01, use_cpu=True,
                             report_to="none")
    opt = ClassifierTrainer(model=model, args=args, head_lr_multiplier=10).create_optimizer()
    head = {id(p) for p in model.classifier.parameters()}
    for group in opt.param_groups:
        is_head = {id(p) in head for p in group["params"]}
        assert len(is_head) == 1
        assert group["lr"] == pytest.approx(1e-3 if is_head.pop() else 1e-4)
    decays = {g["weight_decay"] for g in opt.param_groups}
    assert decays == {0.0, 0.01}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


@pytest.mark.integration
def test_train_cli_prints_test_metrics(tiny_dataset_dir, tmp_path):
    import yaml
    from typer.testing import CliRunner
    from trainer.cli import app
    config = tmp_path / "cli-run.yaml"
    config.write_text(yaml.safe_dump(tiny_run_tree(tiny_dataset_dir, tmp_path / "runs", None)))
    result = CliRunner().invoke(app, ["train", str(config), "train.max_steps=2", "train.eval_every=2"])
    assert result.exit_code == 0, result.output
    assert "test (10 documents): micro-F1" in result.output
    assert (tmp_path / "runs" / "cli-run" / "model" / "trainer.json").is_file()   # named after the config


def test_train_cli_bad_override_is_an_error_not_a_traceback(tmp_path):
    from typer.testing import CliRunner
    from trainer.cli import app
    config = tmp_path / "run.yaml"
    config.write_text("data: {dataset: d}\n")
    result = CliRunner().invoke(app, ["train", str(config), "train.epochz=2"])
    assert result.exit_code == 1 and "error:" in result.output and "train.epochs" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_train_real_reuters_smoke(reuters_archive, tmp_path, monkeypatch):
    """configs/test-tiny.yaml end to end on real Reuters: build the dataset, train 20 steps, evaluate."""
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("TRAINER_DATA_MIRROR", str(reuters_archive.parent))
    cfg = load_config(repo / "configs" / "test-tiny.yaml", RunConfig,
                      [f"data.dataset={tmp_path / 'reuters-topics'}",
                       f"data.build={repo / 'configs' / 'data' / 'reuters-topics.yaml'}", f"output.dir={tmp_path}"])
    run = train(cfg, config_path=repo / "configs" / "test-tiny.yaml")
    meta = contracts.read_meta(run)
    assert meta["status"] == "completed" and meta["global_step"] == 20
    assert meta["dataset"]["examples"]["train"] == 200 and meta["dataset"]["labels"]["topics"] > 5
    assert "test" in contracts.read_metrics(run)["topics"]


def test_train_sampler_groups_by_the_precomputed_lengths(tiny_dataset_dir, minilm_dir, tmp_path):
    from transformers import AutoTokenizer, TrainingArguments
    from transformers.trainer_pt_utils import LengthGroupedSampler
    from trainer.data.dataset_io import load_dataset_dir
    from trainer.models.transformer.hf_trainer import ClassifierTrainer
    from trainer.models.transformer.network import build_classifier
    dsd, _ = load_dataset_dir(tiny_dataset_dir)
    space = label_space(dsd["train"], "topics", "multi_label", 1)
    tokenized = tokenization.tokenize_splits(dsd, tiny_dataset_dir, AutoTokenizer.from_pretrained(minilm_dir), [space],
                                             64, "head")
    model = build_classifier(str(minilm_dir), space.labels, "multi_label", random_init=True,
                             encoder_overrides={"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2,
                                                "intermediate_size": 64})
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none",
                             train_sampling_strategy="group_by_length", length_column_name="length")
    marked = list(range(100, 100 + len(tokenized["train"])))   # not the real lengths: shows the column is read
    train_split = tokenized["train"].remove_columns("length").add_column("length", marked)
    sampler = ClassifierTrainer(model=model, args=args, train_dataset=train_split)._get_train_sampler()
    assert isinstance(sampler, LengthGroupedSampler)
    assert list(sampler.lengths) == marked


@pytest.mark.integration
def test_train_refuses_to_replace_a_directory_that_is_not_a_run(tiny_dataset_dir, tmp_path):
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a run directory"):
        train(tiny_cfg(tiny_dataset_dir, tmp_path, max_steps=2))
    assert (tmp_path / "tiny" / "notes.txt").read_text() == "mine"


def test_train_names_the_labels_min_label_count_drops(tiny_dataset_dir, tmp_path):
    """A stricter task.min_label_count than the build's is said out loud: a console line naming the key, the
    threshold and each label with its count, and meta.json's dataset record (report.md reads it)."""
    import io

    from rich.console import Console

    from trainer.training.data import dataset_meta, load_fit_data
    from trainer.console.stages import StageLog
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path)
    tree["task"] = {"target": "regions", "problem": "multi_label", "min_label_count": 14}
    events = []
    data = load_fit_data(load_config(None, RunConfig, tree=tree), progress=events.append)
    # make_tiny_dataset: 14 Eastern Asia, 13 Northern America, 13 Western Europe training rows
    assert [(d["label"], d["train"], d["rule"], d["threshold"]) for d in data.spaces[0].dropped] == [
        ("Northern America", 13, "task.min_label_count", 14), ("Western Europe", 13, "task.min_label_count", 14)]
    assert dataset_meta(data)["labels_dropped"] == {"regions": data.spaces[0].dropped}
    log = StageLog(Console(file=io.StringIO(), width=200, color_system=None))
    for event in events:
        log(event)
    text = log.console.file.getvalue()
    assert "label space" in text and "regions: 1 label\n" in text
    assert ("regions: task.min_label_count 14 dropped 2 labels: Northern America (13 training documents), "
            "Western Europe (13 training documents)") in text
