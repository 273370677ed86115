"""model.reading: how a transformer reads long texts (windows, pooling), the same in training, evaluate,
Predictor, predict and serve."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import tiny_run_tree
from trainer.config import RunConfig, load_config
from trainer.errors import ConfigError
from trainer.models.transformer.reading import (Reading, encode_windows, pool_logits, resolve_stride,
                                                window_starts)

LONG = " ".join(f"word{i}" for i in range(300)) + " wheat harvest corn exports grain shipments"


def test_reading_window_starts_hand_computed():
    # 20 tokens, windows of 8 every 6: 0, 6, and the last one ends at the text's end (12)
    assert window_starts(20, 8, 6, 10) == [0, 6, 12]
    # 21 tokens: 0, 6, 12 and one ending at the end (13), not a 3-token leftover at 18
    assert window_starts(21, 8, 6, 10) == [0, 6, 12, 13]
    assert window_starts(5, 8, 6, 10) == [0]
    assert window_starts(8, 8, 6, 10) == [0]
    # capped: the windows are spread from the start to the end, so the tail is read
    assert window_starts(100, 8, 6, 3) == [0, 46, 92]
    assert window_starts(100, 8, 6, 1) == [0]


@pytest.mark.parametrize("seed", range(5))
def test_reading_windows_cover_every_token_when_not_capped(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        window = int(rng.integers(1, 40))
        stride = int(rng.integers(1, window + 1))
        n = int(rng.integers(0, 300))
        starts = window_starts(n, window, stride, max_windows=10_000)
        covered = np.zeros(max(n, 1), bool)
        for s in starts:
            covered[s:s + window] = True
            assert s + window <= max(n, window)          # no window runs past the end
        assert covered[:n].all()
        assert all(b - a <= stride for a, b in zip(starts, starts[1:]))
        assert n <= window or starts[-1] + window == n   # the last window ends at the text's end


def test_reading_stride_longer_than_the_window_is_refused():
    with pytest.raises(ConfigError, match="longer than the window"):
        resolve_stride(10, window=8)
    with pytest.raises(ConfigError):
        window_starts(20, 8, 9, 10)
    assert resolve_stride(None, window=254) == 127          # default: half a window, windows overlap
    assert resolve_stride(8, window=8) == 8


def test_reading_config_refuses_a_stride_that_skips_tokens(tiny_dataset_dir, tmp_path):
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path)
    tree["model"]["reading"] = {"mode": "windows", "stride": 64}
    with pytest.raises(ConfigError, match="model.reading.stride 64"):
        load_config(None, RunConfig, tree=tree)
    tree["model"]["reading"] = {"mode": "truncate", "train": "windows"}
    with pytest.raises(ConfigError, match="needs model.reading.mode: windows"):
        load_config(None, RunConfig, tree=tree)


def test_reading_encode_windows_wraps_each_window(minilm_dir):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    text = " ".join(f"word{i}" for i in range(40))
    enc, owner = encode_windows(tok, ["short", text, "also short"], max_length=16, stride=10, max_windows=3)
    assert owner.tolist()[0] == 0 and owner.tolist()[-1] == 2 and (owner == 1).sum() == 3
    assert all(ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id and len(ids) <= 16
               for ids in enc["input_ids"])


def test_reading_pool_logits_mean_and_max():
    logits = np.array([[1.0, 0.0], [3.0, -2.0], [5.0, 5.0]], dtype=np.float32)
    np.testing.assert_allclose(pool_logits(logits, [0, 0, 1], 2, "max"), [[3.0, 0.0], [5.0, 5.0]])
    np.testing.assert_allclose(pool_logits(logits, [0, 0, 1], 2, "mean"), [[2.0, -1.0], [5.0, 5.0]])
    # attention: weights softmax(1, 3) = (0.119, 0.881) -> 0.119 * 1 + 0.881 * 3
    att = pool_logits(logits, [0, 0, 1], 2, "attention")
    assert att[0, 0] == pytest.approx(1 / (1 + np.e ** 2) + 3 * np.e ** 2 / (1 + np.e ** 2), rel=1e-5)
    assert logits[:2].mean(0)[0] < att[0, 0] < logits[:2].max(0)[0]


def test_reading_pool_logits_matches_a_per_text_loop_on_many_texts():
    rng = np.random.default_rng(0)
    per_text = rng.integers(1, 6, size=5000)
    owner = np.repeat(np.arange(len(per_text)), per_text)
    logits = rng.normal(size=(len(owner), 7)).astype(np.float32)
    def attention(z, axis):
        w = np.exp(z - z.max(axis=axis))
        return (w * z).sum(axis=axis) / w.sum(axis=axis)
    for how, fn in (("max", np.max), ("mean", np.mean), ("attention", attention)):
        pooled = pool_logits(logits, owner, len(per_text), how)
        for i in (0, 17, 4999):
            np.testing.assert_allclose(pooled[i], fn(logits[owner == i], axis=0), rtol=1e-5, atol=1e-6)


def test_reading_pool_logits_refuses_windows_out_of_text_order():
    with pytest.raises(ValueError, match="grouped by text"):
        pool_logits(np.zeros((3, 2)), [0, 1, 0], 2, "max")
    with pytest.raises(ValueError, match="grouped by text"):
        pool_logits(np.zeros((2, 2)), [0, 0], 2, "max")     # text 1 has no window


def test_reading_settings_round_trip_and_old_models_truncate():
    r = Reading("windows", 100, 4, "mean", "windows")
    assert Reading.from_settings(r.to_settings()) == r
    assert Reading.from_settings(None) == Reading() and not Reading().windows


@pytest.fixture(scope="module")
def windows_run(tiny_dataset_dir, tmp_path_factory):
    """A tiny run that reads windows (mean-pooled) and trains on every window of its training texts."""
    from trainer.workflows.train import train
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path_factory.mktemp("windows"), name="windows")
    tree["model"]["max_length"] = 16
    tree["model"]["reading"] = {"mode": "windows", "stride": 7, "max_windows": 6, "pool": "mean", "train": "windows"}
    tree["train"]["epochs"] = 2
    return train(load_config(None, RunConfig, tree=tree))


def test_reading_is_saved_with_the_model(windows_run):
    spec = json.loads((windows_run / "model" / "trainer.json").read_text())
    assert spec["reading"] == {"mode": "windows", "stride": 7, "max_windows": 6, "pool": "mean", "train": "windows"}


def _manual_windows_scores(run, texts):
    """What reading by windows must give: every window scored alone, the logits averaged per text."""
    from trainer.decisions import to_probabilities
    from trainer.models import ScoreOptions, load_model
    model = load_model(run, ScoreOptions(precision="fp32"))
    scorer = model.scorer
    enc, owner = encode_windows(model.tokenizer, texts, 16, 7, 6)
    per_window = np.concatenate([scorer.forward_encoded({k: [v[i]] for k, v in enc.items()}) for i in range(len(owner))])
    pooled = np.stack([per_window[owner == i].mean(axis=0) for i in range(len(texts))])
    return to_probabilities(pooled, "multi_label"), model


def test_reading_predictor_reads_windows(windows_run):
    from trainer.serving.predictor import Predictor
    texts = [LONG, "Tokyo: oil prices"]
    expected, model = _manual_windows_scores(windows_run, texts)
    got = [r["topics"] for r in Predictor.load(windows_run, precision="fp32").predict(texts)]
    labels = list(model.spec.primary.labels)
    for row, probs in zip(got, expected):
        np.testing.assert_allclose([row["scores"][label] for label in labels], probs, atol=2e-5)
    head = model.score(texts, "head")["topics"]
    assert not np.allclose(head[0], expected[0], atol=1e-4)     # the long text is read beyond its head


def test_reading_cli_predict_and_serve_read_windows(windows_run, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from trainer.cli import app
    from trainer.models.transformer import runtime
    from trainer.serving.http import create_app
    from trainer.serving.predictor import Predictor
    expected, model = _manual_windows_scores(windows_run, [LONG])
    labels = list(model.spec.primary.labels)
    # a CLI that read the head only would be this far off; the tolerance below must tell the two apart
    head = model.score([LONG], "head")["topics"][0]
    assert np.abs(head - expected[0]).max() > 100 * 2e-5
    # predict scores in the CPU's default precision (bf16 where it is native): fp32 here, so the match is exact
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: False)
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": LONG}) + "\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["predict", str(windows_run), "--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text().splitlines()[0])["scores"]
    np.testing.assert_allclose([scores[label] for label in labels], expected[0], atol=2e-5)
    client = TestClient(create_app(Predictor.load(windows_run, precision="fp32")))
    served = client.post("/predict", json={"texts": [LONG]}).json()["predictions"][0]["scores"]
    np.testing.assert_allclose([served[label] for label in labels], expected[0], atol=2e-5)


def test_reading_training_uses_every_window(windows_run, tiny_dataset_dir):
    from transformers import AutoTokenizer

    from trainer.data.dataset_io import load_dataset_dir
    from trainer.data.label_space import label_space
    from trainer.models.transformer.tokenized import tokenize_splits
    dsd, _ = load_dataset_dir(tiny_dataset_dir)
    tok = AutoTokenizer.from_pretrained(windows_run / "model")
    space = label_space(dsd["train"], "topics", "multi_label", 1)
    reading = Reading("windows", 7, 6, "mean", "windows")
    tokenized = tokenize_splits(dsd, tiny_dataset_dir, tok, [space], 16, "head", reading=reading)
    _, owner = encode_windows(tok, list(dsd["train"]["text"]), 16, 7, 6)
    assert len(tokenized["train"]) == len(owner) > len(dsd["train"])
    assert len(tokenized["validation"]) == len(dsd["validation"])          # in-training evaluation reads heads
    first = int(np.flatnonzero(np.bincount(owner) > 1)[0])                 # a text with several windows
    rows = [i for i, o in enumerate(owner) if o == first]
    assert len({tuple(tokenized["train"][i]["labels"]) for i in rows}) == 1    # each window has the text's labels
    assert {tokenized["train"][i]["id"] for i in rows} == {dsd["train"][first]["id"]}


def test_reading_report_compares_windows_with_the_head(windows_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(windows_run, run)
    from trainer.evaluation import evaluate_on_split
    metrics = evaluate_on_split(run)["topics"]
    comparison = metrics["test"]["reading"]
    assert set(comparison) == {"all", "long"}
    assert comparison["all"]["reading"]["n_examples"] == metrics["test"]["n_examples"]
    assert "its head only" in (run / "report.md").read_text()
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["reading"]["mode"] == "windows"


def test_reading_onnx_export_reads_the_same_windows(windows_run, tmp_path):
    # the portable export keeps the model's reading: ONNX Runtime scores the long text window by window too
    from trainer.models import export_model
    from trainer.serving.predictor import Predictor
    run = Path(shutil.copytree(windows_run, tmp_path / "run"))   # no onnxruntime (dev has it): export names the extra
    export_model(run, "onnx", "none")
    expected, model = _manual_windows_scores(run, [LONG])
    got = Predictor.load(run, runtime="onnx").predict([LONG])[0]["topics"]["scores"]
    np.testing.assert_allclose([got[label] for label in model.spec.primary.labels], expected[0], atol=1e-4)


def test_reading_long_tail_loss_is_refused_for_several_targets(tiny_dataset_dir, tmp_path):
    from trainer.models.registry import model_class
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path)
    tree["task"] = {"targets": [{"name": "topics"}, {"name": "regions"}]}
    tree["model"]["loss"] = "asymmetric"
    cfg = load_config(None, RunConfig, tree=tree)
    with pytest.raises(ConfigError, match="model.loss asymmetric: a long-tail loss is for one multi-label target"):
        model_class("transformer").check_config(cfg)
