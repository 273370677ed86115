"""model/onnx/export.json: the portable (ONNX) exports of a model directory and the weights they came from.

    {"format": 1, "source": {"file": "model.safetensors", "sha256": ...},
     "inputs": ["input_ids", "attention_mask", ...], "outputs": {"<target>": "logits.<target>", ...},
     "variants": {"none": {"file": "model.onnx", "opset": 18, "max_abs_logit_diff": ...},
                  "int8": {"file": "model.int8.onnx", ...}},
     "tokenizer": {"file": "tokenizer.json", "pad_token_id": 0, "padding_side": "right",
                   "model_input_names": [...]}, "parameters": 22_000_000, "versions": {...}}

model/'s own weights stay the source of truth: an export whose source hash no longer matches them
(the model was trained again) is refused as stale rather than silently served.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.atomic import atomic_write_json
from trainer.contracts.files import EXPORT_DIR, EXPORT_INFO, ONNX_FILES, REEXPORT, read_json
from trainer.errors import DataError

EXPORT_FORMAT = 1


@dataclass
class ExportInfo:
    source_file: str
    source_sha256: str
    inputs: list[str]
    outputs: dict[str, str]                     # target name -> graph output name
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)   # quantize -> {"file", ...}
    tokenizer: dict[str, Any] = field(default_factory=dict)   # file (in onnx/), pad_token_id, padding_side, ...
    parameters: int = 0
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"format": EXPORT_FORMAT, "source": {"file": self.source_file, "sha256": self.source_sha256},
                "inputs": self.inputs, "outputs": self.outputs, "variants": self.variants,
                "tokenizer": self.tokenizer, "parameters": self.parameters, "versions": self.versions}


def export_dir_of(model_dir: str | Path) -> Path:
    return Path(model_dir) / EXPORT_DIR


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_export_info(model_dir: str | Path, info: ExportInfo) -> Path:
    return atomic_write_json(export_dir_of(model_dir) / EXPORT_INFO, info.to_dict())


def read_export_info(model_dir: str | Path, quantize: str = "none", check_source: bool = True) -> ExportInfo:
    """The export record; DataError (one line, naming the fix) when there is none for `quantize`, it is
    malformed, or its source weights are not model/'s weights any more."""
    path = export_dir_of(model_dir) / EXPORT_INFO
    if quantize not in ONNX_FILES:
        raise DataError(f"quantize {quantize!r}: use one of {', '.join(ONNX_FILES)}")
    if not path.is_file():
        raise DataError(f"{model_dir}: no ONNX export ({EXPORT_DIR}/{EXPORT_INFO} missing); {REEXPORT}")
    raw = read_json(path, REEXPORT)
    try:
        if raw.get("format") != EXPORT_FORMAT:
            raise DataError(f"{path}: export format {raw.get('format')!r} is not {EXPORT_FORMAT}; {REEXPORT}")
        info = ExportInfo(str(raw["source"]["file"]), str(raw["source"]["sha256"]), [str(x) for x in raw["inputs"]],
                          {str(k): str(v) for k, v in raw["outputs"].items()}, dict(raw["variants"]),
                          dict(raw["tokenizer"]), int(raw.get("parameters", 0)), dict(raw.get("versions", {})))
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: missing or malformed field {exc}; {REEXPORT}") from None
    variant = info.variants.get(quantize)
    if not isinstance(variant, dict) or not (export_dir_of(model_dir) / str(variant.get("file"))).is_file():
        flag = "" if quantize == "none" else f" --quantize {quantize}"
        raise DataError(f"{model_dir}: no {ONNX_FILES[quantize]} in {EXPORT_DIR}/; "
                        f"run `trainer export RUN_DIR --format onnx{flag}`")
    if check_source:
        source = Path(model_dir) / info.source_file
        if not source.is_file() or file_sha256(source) != info.source_sha256:
            raise DataError(f"{path}: stale export: {info.source_file} changed since it was exported "
                            f"(the model was trained or saved again); {REEXPORT}")
    return info
