"""`trainer export --format onnx`: the ONNX export scores like the torch model (scores and label sets, multi- and
single-label, real Reuters text), without torch, N targets, and refuses stale or missing exports in one line."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trainer import contracts
from trainer.cli import app
from trainer.errors import ConfigError, DataError
from trainer.models import export_model
from trainer.serving.predictor import Predictor

pytestmark = pytest.mark.integration   # trains tiny models / exports / spawns processes

TEXTS = ["Paris: wheat harvest and corn exports", "Tokyo: oil prices and barrels per day", "dividend per share rose",
         "trade deficit " * 80]   # longer than max_length: truncation


def _copy_run(run_dir: Path, dest: Path) -> Path:
    """Exports write into model/onnx/: work on a copy of the session's read-only run."""
    return Path(shutil.copytree(run_dir, dest))


@pytest.fixture(scope="module")
def exported(tiny_run_dir, tmp_path_factory) -> Path:
    run = _copy_run(tiny_run_dir, tmp_path_factory.mktemp("export") / "run")
    export_model(run, "onnx", "int8")   # writes model.onnx and model.int8.onnx
    return run


def _reuters_texts(archive: Path, n: int) -> list[str]:
    from trainer.data.config import SourceConfig
    from trainer.data.readers import read_articles
    docs = []
    for a in read_articles(SourceConfig(kind="reuters", path=str(archive), download=False)):
        if getattr(a, "split", None) == "test" and a.text.strip():
            docs.append(a.text)
            if len(docs) == n:
                break
    return docs


def _assert_parity(run: Path, texts: list[str], atol: float = 1e-4, **options) -> None:
    torch_p = Predictor.load(run, precision="fp32", **options)
    onnx_p = Predictor.load(run, runtime="onnx", **options)
    a, b = torch_p.model.score(texts), onnx_p.model.score(texts)
    assert set(a) == set(b) == set(torch_p.spec.target_names)
    for name in a:
        assert a[name].shape == b[name].shape == (len(texts), len(torch_p.spec.target(name).labels))
        np.testing.assert_allclose(b[name], a[name], atol=atol)
    # label sets through the saved decision rule (thresholds, at_least_one) and a plain cut
    assert [{n: r[n]["labels"] for n in r} for r in onnx_p.predict(texts)] == \
        [{n: r[n]["labels"] for n in r} for r in torch_p.predict(texts)]
    assert [{n: r[n]["labels"] for n in r} for r in onnx_p.predict(texts, threshold=0.3)] == \
        [{n: r[n]["labels"] for n in r} for r in torch_p.predict(texts, threshold=0.3)]


def test_export_writes_the_contract_files(exported):
    folder = exported / "model" / contracts.EXPORT_DIR
    assert {p.name for p in folder.iterdir()} == {"model.onnx", "model.int8.onnx", "tokenizer.json", "export.json"}
    info = contracts.read_export_info(exported / "model", "int8")
    assert info.outputs == {"topics": "logits.topics"} and info.inputs[:2] == ["input_ids", "attention_mask"]
    assert info.variants["none"]["max_abs_logit_diff"] < 1e-3 and info.variants["none"]["probe_labels_agree"]
    assert info.source_sha256 == contracts.file_sha256(exported / "model" / "model.safetensors")
    assert (exported / "model" / "model.safetensors").is_file()   # the source of truth stays


def test_export_multi_label_parity_with_torch(exported):
    _assert_parity(exported, TEXTS)


def test_export_parity_on_real_reuters_text(exported, reuters_archive):
    _assert_parity(exported, _reuters_texts(reuters_archive, 60))


def test_export_parity_head_tail_truncation_and_chunking(exported, reuters_archive, tmp_path):
    run = _copy_run(exported, tmp_path / "run")
    spec_path = run / "model" / contracts.SPEC
    spec = json.loads(spec_path.read_text())
    spec["truncation"] = "head_tail"
    spec_path.write_text(json.dumps(spec))
    texts = _reuters_texts(reuters_archive, 20)
    _assert_parity(run, texts)
    from trainer.config.run_config import ChunkingConfig
    chunking = ChunkingConfig(enabled=True, stride=32, max_chunks=4)
    a = Predictor.load(run, precision="fp32").model.score(texts, chunking)["topics"]
    b = Predictor.load(run, runtime="onnx").model.score(texts, chunking)["topics"]
    np.testing.assert_allclose(b, a, atol=1e-4)


def test_export_single_label_parity(tiny_single_label_run_dir, tmp_path):
    run = _copy_run(tiny_single_label_run_dir, tmp_path / "run")
    export_model(run, "onnx")
    _assert_parity(run, TEXTS)
    probs = Predictor.load(run, runtime="onnx").model.score(TEXTS)["topic"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_export_int8_stays_close(exported, reuters_archive):
    from trainer.models.transformer.onnx_export import PROBE_TEXTS
    texts = TEXTS + _reuters_texts(reuters_archive, 60)
    ref, q = Predictor.load(exported, precision="fp32"), Predictor.load(exported, runtime="onnx", quantize="int8")
    a, b = ref.model.score(texts)["topics"], q.model.score(texts)["topics"]
    assert np.abs(a - b).mean() < 0.01 and np.abs(a - b).max() < 0.1    # measured 0.004 and 0.056
    # the label sets through the saved decision rule: int8 may move a label near its threshold, rarely
    same = [x["topics"]["labels"] == y["topics"]["labels"] for x, y in zip(ref.predict(texts), q.predict(texts))]
    assert np.mean(same) >= 0.95                                          # measured 1.0 (64 texts)
    # export.json records what int8 does on the probe texts: the same max |logit diff| measured here
    recorded = contracts.read_export_info(exported / "model", "int8").variants["int8"]
    probe_ref, probe_q = ref.model.scorer.logits(PROBE_TEXTS), q.model.scorer.logits(PROBE_TEXTS)["topics"]
    measured = float(np.abs(probe_ref - probe_q).max())
    assert recorded["max_abs_logit_diff"] == pytest.approx(measured, rel=0.05, abs=1e-4)
    assert measured > 1e-3      # int8 weights do change the logits: an fp32 graph under the int8 name would not
    assert recorded["probe_labels_agree"] == bool(((probe_ref >= 0) == (probe_q >= 0)).all())


def test_export_scores_without_torch(exported):
    code = ("import sys\nfrom trainer.serving.predictor import Predictor\n"
            f"p = Predictor.load({str(exported)!r}, runtime='onnx')\n"
            "out = p.predict(['oil prices in Tokyo'])\n"
            "assert out[0]['topics']['scores'], out\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_export_missing_is_a_one_line_error(tiny_run_dir):
    with pytest.raises(DataError, match="trainer export") as err:
        Predictor.load(tiny_run_dir, runtime="onnx")
    assert "\n" not in str(err.value)


def test_export_missing_int8_names_the_flag(tiny_single_label_run_dir, tmp_path):
    run = _copy_run(tiny_single_label_run_dir, tmp_path / "run")
    export_model(run, "onnx")
    with pytest.raises(DataError, match="--quantize int8"):
        Predictor.load(run, runtime="onnx", quantize="int8")


def test_export_stale_after_the_weights_change(exported, tmp_path):
    run = _copy_run(exported, tmp_path / "run")
    with open(run / "model" / "model.safetensors", "ab") as fh:
        fh.write(b" ")
    with pytest.raises(DataError, match="stale export") as err:
        Predictor.load(run, runtime="onnx")
    assert "\n" not in str(err.value)


def test_export_bf16_with_onnx_is_refused(exported):
    with pytest.raises(ConfigError, match="bf16"):
        Predictor.load(exported, runtime="onnx", precision="bf16")


def test_export_of_tfidf_is_a_clear_refusal(tmp_path, tiny_dataset_dir):
    from conftest import tiny_run_tree
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path, "tfidf")
    tree["model"] = {"type": "tfidf-linear", "tfidf": {"min_df": 1}}
    run = train(load_config(None, RunConfig, tree=tree))
    with pytest.raises(ConfigError, match="without torch"):
        export_model(run, "onnx")
    with pytest.raises(ConfigError, match="runtime onnx"):
        Predictor.load(run, runtime="onnx")


def test_export_handles_several_targets(tiny_run_dir, tmp_path):
    """A network with two heads (consecutive logits blocks, as PooledClassifier gives them): one graph output and
    one score matrix each."""
    import torch
    from types import SimpleNamespace

    from trainer.contracts import ExportInfo, ModelSpec, Target, write_export_info
    from trainer.models.transformer.network import load_network
    from trainer.models.transformer.onnx_export import _export_fp32
    from trainer.models.transformer.onnx_scoring import OnnxScorer
    from trainer.models.base import ScoreOptions

    base, tokenizer = load_network(tiny_run_dir / "model")
    spec0 = contracts.read_spec(tiny_run_dir / "model")
    spec = ModelSpec("transformer", [spec0.primary, Target("regions", "single_label", ("a", "b", "c"))],
                     spec0.settings)

    class TwoHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.base, self.regions = base, torch.nn.Linear(len(spec0.primary.labels), 3)

        def forward(self, **kw):
            topics = self.base(**kw).logits
            return SimpleNamespace(logits=torch.cat([topics, self.regions(topics)], dim=-1))

    net = TwoHeads().eval()
    model_dir = shutil.copytree(tiny_run_dir / "model", tmp_path / "model")
    folder = model_dir / contracts.EXPORT_DIR
    folder.mkdir()
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    _export_fp32(net, tokenizer, spec, inputs, folder / "model.onnx")
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    write_export_info(model_dir, ExportInfo(
        "model.safetensors", contracts.file_sha256(model_dir / "model.safetensors"), inputs,
        {"topics": "logits.topics", "regions": "logits.regions"}, {"none": {"file": "model.onnx"}},
        {"file": "tokenizer.json", "pad_token_id": 0, "padding_side": "right", "model_input_names": inputs}))
    scores = OnnxScorer(model_dir, spec, ScoreOptions()).score(TEXTS)
    assert set(scores) == {"topics", "regions"}
    assert scores["regions"].shape == (len(TEXTS), 3)
    np.testing.assert_allclose(scores["regions"].sum(axis=1), 1.0, rtol=1e-5)
    enc = tokenizer(TEXTS, truncation=True, max_length=int(spec.settings["max_length"]), padding=True,
                    return_tensors="pt")
    with torch.inference_mode():
        expected = torch.sigmoid(net(**enc).logits[:, :len(spec0.primary.labels)]).numpy()
    np.testing.assert_allclose(scores["topics"], expected, atol=1e-4)


def test_export_cli(tiny_run_dir, tmp_path):
    run = _copy_run(tiny_run_dir, tmp_path / "run")
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(run), "--format", "onnx"])
    assert result.exit_code == 0, result.output
    assert "model.onnx" in result.output and "agree" in result.output
    bad = runner.invoke(app, ["export", str(run), "--format", "tflite"])
    assert bad.exit_code == 1 and "use onnx" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(app, ["predict", str(run), "-", "--runtime", "tensorrt"], input="oil")
    assert bad.exit_code == 1 and "use torch or onnx" in bad.output
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    outs = {}
    for runtime in ("torch", "onnx"):
        result = runner.invoke(app, ["predict", str(run), "--input", str(source), "--runtime", runtime])
        assert result.exit_code == 0, result.output
        lines = [line[line.index('{"id"'):] for line in result.output.splitlines() if '{"id"' in line]   # past stderr
        outs[runtime] = [json.loads(line)["labels"] for line in lines]
    assert outs["onnx"] == outs["torch"] and len(outs["onnx"]) == len(TEXTS)


@pytest.fixture(scope="module")
def reuters_minilm_run(reuters_archive, tmp_path_factory, monkeypatch_module) -> Path:
    """MiniLM-L6 fine-tuned in this session on real Reuters text (ModApte topics, 800 training documents, one
    epoch, fp32): a full-size encoder with real predictions, so parity and int8 are checked where they matter."""
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train
    repo = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("reuters-minilm")
    monkeypatch_module.setenv("TRAINER_DATA_MIRROR", str(reuters_archive.parent))
    tree = {"data": {"dataset": str(out / "reuters-topics"), "build": str(repo / "configs/data/reuters-topics.yaml"),
                     "limit": 800},
            "task": {"target": "topics", "problem": "multi_label"},
            "model": {"name": "minilm-l6", "max_length": 128, "pooling": "mean", "prior_bias": True},
            "train": {"epochs": 1, "batch_size": 16, "learning_rate": 1e-4, "head_lr_multiplier": 10,
                      "precision": "fp32", "early_stopping_patience": None},
            "eval": {"thresholds": "none"},
            "output": {"dir": str(out / "runs"), "name": "reuters-minilm"}}
    return train(load_config(None, RunConfig, tree=tree))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.mark.slow
def test_export_parity_trained_reuters_model(reuters_minilm_run, reuters_archive, tmp_path):
    """A MiniLM run trained on Reuters in this session, on 300 Reuters test texts: fp32 export within 1e-3 and
    every label set equal; int8 label sets equal on >= 97% (measured 98.0% on this 1-epoch model, 98.7% on a
    2-epoch full run: dynamic int8 does move some labels, which is why it is an explicit, recorded choice)."""
    run = tmp_path / "run"
    shutil.copytree(reuters_minilm_run / "model", run / "model")
    export_model(run, "onnx", "int8")
    texts = _reuters_texts(reuters_archive, 300)
    ref = Predictor.load(run, precision="fp32")
    a = ref.model.score(texts)["topics"]
    b = Predictor.load(run, runtime="onnx").model.score(texts)["topics"]
    assert np.abs(a - b).max() < 1e-3
    ref_labels = [r["topics"]["labels"] for r in ref.predict(texts)]
    print(f"fp32 predicts labels for {sum(map(bool, ref_labels))} of {len(texts)} texts")
    assert sum(map(bool, ref_labels)) >= 100          # a model that predicts: the comparison means something
    assert [r["topics"]["labels"] for r in Predictor.load(run, runtime="onnx").predict(texts)] == ref_labels
    q = Predictor.load(run, runtime="onnx", quantize="int8")
    same = np.mean([x == r["topics"]["labels"] for x, r in zip(ref_labels, q.predict(texts))])
    print(f"int8 label sets equal to fp32 on {same:.1%} of {len(texts)} Reuters test texts")
    assert same >= 0.97
