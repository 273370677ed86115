"""`model.type: transformer`: a fine-tuned Hugging Face encoder with mean (or CLS) pooling and a linear head.

model/ holds a plain `save_pretrained` folder (config.json, model.safetensors, tokenizer files) beside
trainer.json; loading needs this package only, never remote code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.contracts import ModelSpec, RETRAIN
from trainer.errors import ConfigError, DataError
from trainer.models.base import FitContext, Fitted, Model, ScoreOptions

WEIGHT_FILES = ("config.json", "model.safetensors")


class TransformerClassifier(Model):
    type = "transformer"
    supports_chunking = True
    export_formats = ("onnx",)
    trains_in_steps = True
    libraries = ("datasets", "transformers")

    def __init__(self, network, tokenizer, spec: ModelSpec, options: ScoreOptions | None = None,
                 model_dir: Path | None = None):
        self.network, self.tokenizer, self.spec = network, tokenizer, spec
        self.options = options or ScoreOptions()
        self.model_dir = model_dir   # where it was loaded from (the ONNX runtime reads model/onnx/ there)
        self._scorer = None

    @classmethod
    def check_config(cls, cfg) -> None:
        """The encoder exists locally and takes model.config_overrides / attention_dropout."""
        from transformers import AutoConfig

        from trainer.models.transformer.network import apply_encoder_overrides, set_attention_dropout
        from trainer.models.transformer.pretrained import resolve_model_path
        enc_cfg = AutoConfig.from_pretrained(resolve_model_path(cfg.model.name))
        if cfg.model.attention_dropout is not None:
            set_attention_dropout(enc_cfg, cfg.model.attention_dropout)
        apply_encoder_overrides(enc_cfg, cfg.model.config_overrides)
        if cfg.model.loss != "bce" and (cfg.task.several or cfg.task.problem != "multi_label"):
            raise ConfigError(f"model.loss {cfg.model.loss}: a long-tail loss is for one multi-label target "
                              "(task.target); use model.loss: bce for single-label or task.targets runs")

    @classmethod
    def fit(cls, ctx: FitContext) -> Fitted:
        from trainer.models.transformer.fitting import fit_network
        network, tokenizer, stats = fit_network(ctx)
        m = ctx.cfg.model
        from trainer.models.transformer.reading import Reading
        settings = {"max_length": m.max_length, "truncation": m.truncation, "pooling": m.pooling,
                    "reading": Reading.from_config(m.reading).to_settings()}
        spec = ModelSpec(cls.type, [s.as_target() for s in ctx.data.spaces], settings)
        model = cls(network, tokenizer, spec)
        return Fitted(model, {**stats, "model_parameters": model.num_parameters})

    @classmethod
    def load(cls, model_dir: Path, spec: ModelSpec, options: ScoreOptions) -> "TransformerClassifier":
        if options.runtime == "onnx":   # no torch: the export and its tokenizer only
            model = cls(None, None, spec, options, Path(model_dir))
            model.scorer   # load the session now: a missing or stale export fails at load, not at first use
            return model
        if options.runtime != "torch":
            raise ConfigError(f"runtime {options.runtime!r}: use torch or onnx")
        missing = [name for name in WEIGHT_FILES if not (Path(model_dir) / name).is_file()]
        if missing:
            raise DataError(f"{model_dir}: {', '.join(missing)} missing: the run did not finish writing its model; "
                            f"{RETRAIN}")
        from trainer.models.transformer.network import load_network
        try:
            network, tokenizer = load_network(model_dir)
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{model_dir}: the saved network cannot be loaded ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}); {RETRAIN}") from None
        return cls(network, tokenizer, spec, options, Path(model_dir))

    def set_options(self, options: ScoreOptions) -> None:
        self.options, self._scorer = options, None

    def save_weights(self, model_dir: Path) -> None:
        self.network.save_pretrained(model_dir, safe_serialization=True)
        self.tokenizer.save_pretrained(model_dir)

    def export(self, model_dir: Path, fmt: str = "onnx", quantize: str = "none") -> Path:
        if fmt != "onnx":
            raise ConfigError(f"--format {fmt!r}: transformer models export to onnx")
        from trainer.models.transformer.onnx_export import export_onnx
        return export_onnx(model_dir, self.spec, quantize)

    @property
    def scorer(self):
        if self._scorer is None and self.options.runtime == "onnx":
            if self.model_dir is None:
                raise ConfigError("runtime onnx scores a saved model's export: save it, export it, load it")
            from trainer.models.transformer.onnx_scoring import OnnxScorer
            self._scorer = OnnxScorer(self.model_dir, self.spec, self.options)
        elif self._scorer is None:
            if self.network is None:
                raise ConfigError("this model was loaded for the onnx runtime; load it again for torch")
            from trainer.models.transformer.scoring import TransformerScorer
            self._scorer = TransformerScorer(self.network, self.tokenizer, self.spec, self.options)
        return self._scorer

    def score_targets(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        return self.scorer.score(texts, chunking)

    @staticmethod
    def reading_for(reading_cfg, changes: dict):
        """The `chunking` argument of score_targets that reads texts as the model.reading section `reading_cfg`
        with `changes` (mode, pool) would (trainer.tuning compares readings of one fitted model)."""
        from trainer.models.transformer.reading import Reading
        return Reading(changes["mode"], reading_cfg.stride, reading_cfg.max_windows,
                       changes.get("pool", reading_cfg.pool))

    def reading_description(self) -> str:
        from trainer.models.transformer.reading import Reading
        return Reading.from_settings(self.spec.settings.get("reading")).describe(int(self.spec.settings["max_length"]))

    @property
    def reads_windows(self) -> bool:
        from trainer.models.transformer.reading import Reading
        return Reading.from_settings(self.spec.settings.get("reading")).windows

    def long_text_mask(self, texts: Sequence[str]) -> np.ndarray:
        from trainer.models.transformer.reading import window_size
        window = window_size(self.tokenizer, int(self.spec.settings["max_length"]))
        bodies = self.tokenizer([t or "" for t in texts], add_special_tokens=False, truncation=False,
                                padding=False, verbose=False)["input_ids"]
        return np.array([len(b) > window for b in bodies], dtype=bool)

    @property
    def num_parameters(self) -> int:
        if self.network is None:
            return self.scorer.info.parameters
        return sum(p.numel() for p in self.network.parameters())
