"""PooledClassifier, its save/load format, the encoder overrides, and the shared text encoder."""
import json
import math

import pytest
import torch
from transformers import AutoTokenizer

from trainer.errors import ConfigError, DataError
from trainer.contracts import ModelSpec, Target, read_spec
from trainer.models import ScoreOptions, load_model
from trainer.models.transformer import TransformerClassifier
from trainer.models.transformer.network import build_classifier, pool
from trainer.models.transformer.text import encode

TINY = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}
LABELS = ["a", "b", "c"]


@pytest.fixture(scope="module")
def tokenizer(minilm_dir):
    return AutoTokenizer.from_pretrained(minilm_dir)


def tiny(minilm_dir, problem="multi_label", **kw):
    torch.manual_seed(0)
    return build_classifier(str(minilm_dir), LABELS, problem, random_init=True, encoder_overrides=TINY, **kw)


def test_modeling_prior_bias_is_log_odds_for_multi_label(minilm_dir):
    model = tiny(minilm_dir, priors=[0.5, 0.1, 0.01])
    expected = [math.log(p / (1 - p)) for p in (0.5, 0.1, 0.01)]
    assert model.classifier.bias.tolist() == pytest.approx(expected, abs=1e-5)


def test_modeling_prior_bias_is_log_prior_for_single_label(minilm_dir):
    model = tiny(minilm_dir, "single_label", priors=[0.5, 0.3, 0.2])
    assert model.classifier.bias.tolist() == pytest.approx([math.log(p) for p in (0.5, 0.3, 0.2)], abs=1e-5)


def test_modeling_attention_dropout_sets_the_encoder_config(minilm_dir):
    model = tiny(minilm_dir, attention_dropout=0.0)
    assert model.encoder.config.attention_probs_dropout_prob == 0.0
    assert model.config.encoder["attention_probs_dropout_prob"] == 0.0   # saved with the checkpoint
    assert tiny(minilm_dir, attention_dropout=None).encoder.config.attention_probs_dropout_prob == 0.1


def test_modeling_attention_dropout_unknown_to_the_architecture_is_a_config_error():
    from transformers import GPT2Config
    from trainer.models.transformer.network import set_attention_dropout
    with pytest.raises(ConfigError, match="model.attention_dropout: null"):
        set_attention_dropout(GPT2Config(), 0.0)   # GPT-2 calls it attn_pdrop


def test_modeling_eager_attention_gives_the_sdpa_logits(minilm_dir, tokenizer):
    # trained with the eager kernel, a checkpoint is loaded (and served) with SDPA: same function
    eager = tiny(minilm_dir, attention="eager").eval()
    sdpa = tiny(minilm_dir).eval()
    assert eager.encoder.config._attn_implementation == "eager"
    assert sdpa.encoder.config._attn_implementation == "sdpa"
    batch = encode(tokenizer, ["wheat exports rose", "the central bank cut interest rates again"], 32)
    batch = tokenizer.pad(batch, return_tensors="pt")
    assert torch.allclose(eager(**batch).logits, sdpa(**batch).logits, atol=1e-5)


def test_modeling_mean_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 5.0], [100.0, 100.0]]])
    assert pool(hidden, torch.tensor([[1, 1, 0]]), "mean").tolist() == [[2.0, 3.0]]
    assert pool(hidden, torch.tensor([[1, 1, 0]]), "cls").tolist() == [[1.0, 1.0]]


def test_modeling_padding_does_not_change_logits(minilm_dir, tokenizer):
    model = tiny(minilm_dir).eval()
    ids = encode(tokenizer, ["wheat exports rose"], 32)["input_ids"][0]
    alone = model(input_ids=torch.tensor([ids])).logits
    padded = model(input_ids=torch.tensor([ids + [0] * 5]),
                   attention_mask=torch.tensor([[1] * len(ids) + [0] * 5])).logits
    assert torch.allclose(alone, padded, atol=1e-5)


def test_modeling_pos_weight_raises_loss_on_missed_positives(minilm_dir):
    plain, weighted = tiny(minilm_dir), tiny(minilm_dir, loss_weights=[5.0, 5.0, 5.0])
    logits, labels = torch.full((1, 3), -2.0), torch.tensor([[1.0, 0.0, 0.0]])
    assert weighted.loss(logits, labels) > plain.loss(logits, labels)


def test_modeling_single_label_uses_cross_entropy(minilm_dir):
    model = tiny(minilm_dir, "single_label")
    logits = torch.tensor([[2.0, 0.0, 0.0]])
    assert model.loss(logits, torch.tensor([0])).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, torch.tensor([0])).item())


def test_modeling_save_load_round_trip_keeps_spec_and_weights(minilm_dir, tokenizer, tmp_path):
    model = tiny(minilm_dir).eval()
    spec = ModelSpec("transformer", [Target("topics", "multi_label", tuple(LABELS))],
                     {"max_length": 32, "truncation": "head", "pooling": "mean"})
    TransformerClassifier(model, tokenizer, spec).save(tmp_path / "model")
    files = {p.name for p in (tmp_path / "model").iterdir()}
    assert {"model.safetensors", "config.json", "trainer.json", "thresholds.json", "tokenizer.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    loaded = load_model(tmp_path / "model", ScoreOptions(precision="fp32"))
    assert read_spec(tmp_path / "model").to_dict() == spec.to_dict()
    saved = json.loads((tmp_path / "model" / "thresholds.json").read_text())
    assert saved["targets"]["topics"]["values"] == [0.5] * 3
    ids = encode(loaded.tokenizer, ["oil prices fell"], 32)["input_ids"]
    assert torch.allclose(loaded.network(input_ids=torch.tensor(ids)).logits, model(input_ids=torch.tensor(ids)).logits)


def test_modeling_load_refuses_a_directory_without_spec(tmp_path):
    with pytest.raises(DataError, match="trainer.json"):
        load_model(tmp_path)


@pytest.mark.parametrize("override, message", [
    ({"hidden_size": "abc"}, "expected int"), ({"num_hidden_layers": -3}, ">= 1"), ({"num_hidden_layers": 0}, ">= 1"),
    ({"hidden_dropout_prob": 1.5}, "below 1"), ({"hidden_size": 31}, "cannot be built"),
    ({"num_hidden_layers": True}, "expected int")])
def test_modeling_bad_encoder_overrides_are_config_errors(minilm_dir, override, message):
    with pytest.raises(ConfigError, match=message) as err:
        build_classifier(str(minilm_dir), LABELS, "multi_label", random_init=True, encoder_overrides={**TINY, **override})
    assert "model.config_overrides" in str(err.value)


def test_text_head_truncation_keeps_the_start(tokenizer):
    ids = encode(tokenizer, ["alpha " * 100], 16)["input_ids"][0]
    assert len(ids) == 16 and ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id


def test_text_head_tail_keeps_start_and_end(tokenizer):
    text = "first " + "middle " * 200 + "last"
    ids = encode(tokenizer, [text], 18, "head_tail")["input_ids"][0]
    words = tokenizer.convert_ids_to_tokens(ids)
    assert len(ids) == 18
    assert words[:2] == ["[CLS]", "first"] and words[-2:] == ["last", "[SEP]"]
    assert words.count("middle") == 14    # budget 16: 4 head tokens ("first" + 3), 12 tail ones ("last" + 11)


def test_text_short_texts_are_not_padded(tokenizer):
    enc = encode(tokenizer, ["a b", "a b c d e"], 64, "head_tail")
    assert [len(x) for x in enc["input_ids"]] == [4, 7]
    assert enc["attention_mask"] == [[1] * 4, [1] * 7]
