"""`trainer export RUN --format onnx [--quantize int8]`: the saved network as an ONNX graph for ONNX Runtime.

Reads model/ (the safetensors weights stay the source of truth) and writes model/onnx/:
  model.onnx         fp32 graph: inputs as the tokenizer gives them (input_ids, attention_mask[, token_type_ids]),
                     batch and sequence axes dynamic, one output `logits.<target>` per target
  model.int8.onnx    (--quantize int8) the same graph, MatMul weights int8 per output channel, activations
                     quantized per batch (ONNX Runtime dynamic quantization)
  tokenizer.json     the fast tokenizer, read by the torch-free scorer
  export.json        source weights' sha256, inputs, outputs, and per variant its check against torch

Every export is checked before it is recorded: the ONNX Runtime logits on probe texts (short and long, so
padding and truncation are exercised) against the torch fp32 network's. fp32 must agree within 1e-3;
int8's difference and label agreement are recorded (users then see what quantization costs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.contracts import (EXPORT_INFO, ONNX_FILES, ExportInfo, ModelSpec, export_dir_of, file_sha256,
                               write_export_info)
from trainer.contracts.export import read_export_info
from trainer.errors import ConfigError, DataError

OPSET = 18
FP32_TOLERANCE = 1e-3
WEIGHTS = "model.safetensors"
PROBE_TEXTS = [
    "Saudi Arabia raised crude oil output to 4.5 mln barrels per day, OPEC sources said.",
    "Wheat",
    "The U.S. trade deficit widened in March as imports of cars and consumer goods rose, the Commerce "
    "Department said. " * 12,   # longer than any max_length: truncation
    "Net profit rose 12 pct to 45.6 mln dlrs in the quarter; the company declared a dividend of 20 cts a share.",
]


def target_logits(output, spec: ModelSpec) -> list:
    """One logits tensor per target, in the spec's order: the network's heads are consecutive column blocks
    of its logits (trainer.models.transformer.network), one block per target."""
    logits = output.logits
    widths = [len(t.labels) for t in spec.targets]
    if logits.shape[-1] != sum(widths):
        raise DataError(f"the network gives {logits.shape[-1]} logits but the model's targets have {sum(widths)} "
                        "labels; retrain")
    return list(logits.split(widths, dim=-1))


def export_onnx(model_dir: str | Path, spec: ModelSpec, quantize: str = "none") -> Path:
    """Write model/onnx/ for `quantize` ("none" or "int8"; int8 needs and writes the fp32 graph too)."""
    if quantize not in ONNX_FILES:
        raise ConfigError(f"--quantize {quantize!r}: use none or int8")
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"ONNX export needs onnx, onnxscript and onnxruntime ({exc.name} missing): "
                          "pip install 'trainer[export]'") from None
    from trainer.models.transformer.network import load_network

    model_dir = Path(model_dir)
    network, tokenizer = load_network(model_dir)
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ConfigError(f"{model_dir}: ONNX export needs a fast (tokenizers) tokenizer, and this one is "
                          f"{type(tokenizer).__name__}")
    out = export_dir_of(model_dir)
    out.mkdir(exist_ok=True)
    sha = file_sha256(model_dir / WEIGHTS)
    info = _current_info(model_dir, sha)
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids")
              if n in ("input_ids", "attention_mask") or n in tokenizer.model_input_names]
    if info is None or "none" not in info.variants:
        tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
        info = ExportInfo(WEIGHTS, sha, inputs, {t.name: f"logits.{t.name}" for t in spec.targets},
                          tokenizer={"file": "tokenizer.json", "pad_token_id": int(tokenizer.pad_token_id or 0),
                                     "padding_side": tokenizer.padding_side, "model_input_names": inputs},
                          parameters=sum(p.numel() for p in network.parameters()), versions=_versions())
        _export_fp32(network, tokenizer, spec, inputs, out / ONNX_FILES["none"])
        info.variants["none"] = {"file": ONNX_FILES["none"], "opset": OPSET,
                                 **_check(network, tokenizer, spec, info, out / ONNX_FILES["none"], strict=True)}
        write_export_info(model_dir, info)
    if quantize == "int8":
        _quantize_int8(out / ONNX_FILES["none"], out / ONNX_FILES["int8"])
        info.variants["int8"] = {"file": ONNX_FILES["int8"], "opset": OPSET, "weights": "int8 per channel",
                                 **_check(network, tokenizer, spec, info, out / ONNX_FILES["int8"], strict=False)}
        write_export_info(model_dir, info)
    return out / ONNX_FILES[quantize]


def _current_info(model_dir: Path, sha: str) -> ExportInfo | None:
    """The existing export record when it was made from these very weights; otherwise start over."""
    try:
        info = read_export_info(model_dir, "none", check_source=False)
    except DataError:
        info = None
    if info is not None and info.source_sha256 == sha:
        return info
    folder = export_dir_of(model_dir)
    for name in (*ONNX_FILES.values(), EXPORT_INFO):   # stale files of other weights go
        (folder / name).unlink(missing_ok=True)
    return None


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch
    return {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def _export_fp32(network, tokenizer, spec: ModelSpec, inputs: list[str], path: Path) -> None:
    import torch

    class Graph(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            return tuple(target_logits(self.net(**kwargs), spec))

    network = network.float().eval()
    # 3 texts of 17 tokens: example sizes that are neither 0 nor 1, so no axis is specialised to them
    example = tokenizer(["word " * 40] * 3, truncation=True, max_length=17, padding="max_length",
                        return_tensors="pt")
    args = tuple(example[name] for name in inputs)
    batch = torch.export.Dim("batch", min=1, max=4096)
    encoder_cfg = getattr(getattr(network, "config", None), "encoder", None) or {}
    seq = torch.export.Dim("sequence", min=2, max=int(encoder_cfg.get("max_position_embeddings", 512)))
    tmp = path.with_name(f".{path.name}.tmp")
    import warnings
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(Graph(network), args, None, input_names=inputs,
                                    output_names=[f"logits.{t.name}" for t in spec.targets],
                                    dynamic_shapes={name: {0: batch, 1: seq} for name in inputs},
                                    dynamo=True, opset_version=OPSET, verbose=False)
    program.save(str(tmp), external_data=False)
    tmp.replace(path)


def _quantize_int8(src: Path, dst: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic
    tmp = dst.with_name(f".{dst.name}.tmp")
    logging.getLogger().setLevel(logging.ERROR)   # "consider pre-processing" advice on every call
    quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gemm"])
    tmp.replace(dst)


def _check(network, tokenizer, spec: ModelSpec, info: ExportInfo, path: Path, strict: bool) -> dict:
    """ONNX Runtime against torch fp32 on the probe texts: max |logit diff| and label agreement per target."""
    import onnxruntime as ort
    import torch

    from trainer.models.transformer.onnx_scoring import pad_batch, session_options
    from trainer.models.transformer.text import encode

    max_length = int(spec.settings.get("max_length", 128))
    enc = encode(tokenizer, PROBE_TEXTS, max_length, spec.settings.get("truncation", "head"))
    feed = pad_batch({k: enc[k] for k in info.inputs}, int(tokenizer.pad_token_id or 0))
    with torch.inference_mode():
        expected = [x.float().numpy() for x in target_logits(
            network.float().eval()(**{k: torch.from_numpy(v) for k, v in feed.items()}), spec)]
    session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
    got = session.run([info.outputs[t.name] for t in spec.targets], feed)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(expected, got))
    same = [bool((np.argmax(a, 1) == np.argmax(b, 1)).all()) if not t.multi_label else
            bool(((a >= 0) == (b >= 0)).all()) for t, a, b in zip(spec.targets, expected, got)]
    if strict and (not np.isfinite(diff) or diff > FP32_TOLERANCE):
        path.unlink(missing_ok=True)
        raise DataError(f"ONNX export of {path.parent.parent} changed the outputs (max |logit diff| {diff:.2e} > "
                        f"{FP32_TOLERANCE}); not written. Report it with the versions of torch and onnx")
    return {"max_abs_logit_diff": round(diff, 6), "probe_labels_agree": all(same), "probe_texts": len(PROBE_TEXTS)}
