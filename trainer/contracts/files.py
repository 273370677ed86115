"""File names of the dataset, run and model directories (docs/contracts.md), and the JSON readers every
contract file goes through, so a bad file is always reported the same way: its path, what is wrong,
and how to fix it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer.errors import DataError

# ---- dataset directory (`trainer data build`) ---------------------------------------------------
SPLITS = ("train", "validation", "test")
MANIFEST = "manifest.json"
REJECTS = "rejects.jsonl"
DUPLICATES = "duplicates.jsonl"
DATASET_DICT = "dataset_dict.json"         # written by datasets.DatasetDict.save_to_disk
TOKEN_CACHE = ".cache"                      # tokenized splits, reused by later runs
CLEANING = "cleaning.json"                  # what the build learned to clean pages (also copied into model/)

# ---- run directory (`trainer train`) ------------------------------------------------------------
CONFIG = "config.yaml"
META = "meta.json"
MODEL = "model"
METRICS = "metrics.json"
PREDICTIONS = "predictions.jsonl"
TRAIN_LOG = "train_log.jsonl"
CHECKPOINTS = "checkpoints"
REPORT = "report.md"
REPORT_HTML = "report.html"                 # the same evaluation as one self-contained page with pictures
CONFUSION = "confusion.png"
TRACKING = "tracking.json"

# ---- model directory (run/model/) ---------------------------------------------------------------
SPEC = "trainer.json"
THRESHOLDS = "thresholds.json"
FUSION = "fusion.json"
TUNING = "tuning.json"                      # what `auto` settings the run tried on its training split, what it picked
TUNING_WORK = ".tuning"                     # run/.tuning/: the cut's fits while tuning (removed once it is done)
EXPORT_DIR = "onnx"                         # model/onnx/: portable exports; model/'s own weights stay the source
EXPORT_INFO = "export.json"                 # model/onnx/export.json: what was exported, from which weights
ONNX_FILES = {"none": "model.onnx", "int8": "model.int8.onnx"}   # per quantization
STUDENT_WEIGHTS = "student.safetensors"     # a static student's token vectors and head (model.type: student)
STUDENT_TOKENIZER = "tokenizer.json"        # its tokenizer (the distilled vocabulary's), Hugging Face tokenizers format
VOCABULARY_WEIGHTS = "model.safetensors"    # a distilled static vocabulary in the cache (model2vec's save_pretrained)
REEXPORT = "rerun `trainer export RUN_DIR --format onnx` (add --quantize int8 for the int8 file)"

# ---- audit directory (`trainer audit DATASET --out DIR`) ----------------------------------------
LABEL_ISSUES = "label_issues.jsonl"         # suspected label errors, most suspicious first
DUPLICATE_CONFLICTS = "duplicate_conflicts.jsonl"   # duplicates the build found whose labels differ
AUDIT_SUMMARY = "audit.json"                # how the audit scored (model, folds, seed) and its counts
AUDIT_REPORT = "report.html"                # the same as one readable page
SUGGESTED_CORRECTIONS = "corrections.suggested.yaml"   # a draft for labels.corrections, to review

REBUILD_DATASET = "rebuild it with `trainer data build CONFIG`"
REEVALUATE = "rerun `trainer evaluate RUN_DIR` to write it again"
RETRAIN = "train the run again"


def read_json(path: str | Path, fix: str, *, expect: type = dict) -> Any:
    """Parse a JSON file we wrote; DataError naming the file, the problem and `fix` otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: missing; {fix}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc}); {fix}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}; {fix}") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply; {fix}") from None
    if not isinstance(value, expect):
        raise DataError(f"{path}: expected a JSON {expect.__name__}, got {type(value).__name__}; {fix}")
    return value


def read_jsonl(path: str | Path, fix: str, *, tolerate_cut_line: bool = False) -> list[dict]:
    """One JSON object per line. `tolerate_cut_line`: a log written by appends may end in a line cut
    by a crash; that last line is skipped instead of refused."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: missing; {fix}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc}); {fix}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            if tolerate_cut_line and number == len(lines):
                continue
            raise DataError(f"{path}:{number}: invalid JSON ({getattr(exc, 'msg', exc)}); {fix}") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object per line; {fix}")
        rows.append(row)
    return rows
