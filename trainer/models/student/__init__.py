"""`model.type: student`: a small model trained on a trained run's scores (knowledge distillation).

The teacher (any run: transformer, ensemble, multi-task) scores the training split and, optionally,
unlabelled in-domain articles; the student learns its probabilities as soft labels (BCE for multi-label
targets, cross-entropy against the teacher's distribution for single-label ones) and answers every target
the teacher answers, on the same cleaned text. Thresholds are then tuned on validation like any run's.

The static student (`student: static`): model2vec static vectors distilled once from the shipped MiniLM
(trainer.models.student.vocabulary), mean-pooled, with a trained head; vectors frozen or tuned (auto: the
one closer to the teacher on validation). model/ holds student.safetensors (vectors and heads),
tokenizer.json and trainer.json, whose settings record the teacher (run, config hash) and the vocabulary's
hash. It scores with numpy and `tokenizers` only: there is nothing for an ONNX export to speed up.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.contracts import ModelSpec
from trainer.errors import ConfigError
from trainer.events import notice
from trainer.models.base import FitContext, Fitted, Model, ScoreOptions


class StudentClassifier(Model):
    type = "student"
    libraries = ("datasets", "transformers")

    def __init__(self, network, spec: ModelSpec, options: ScoreOptions | None = None):
        self.network, self.spec = network, spec
        self.options = options or ScoreOptions()

    @classmethod
    def check_config(cls, cfg) -> None:
        from trainer.models.student.teacher import check_teacher
        from trainer.models.encoders import resolve_model_path
        check_teacher(cfg.model.teacher)
        resolve_model_path(cfg.model.encoder)
        if cfg.model.unlabelled is not None and not Path(cfg.model.unlabelled).exists():
            raise ConfigError(f"model.unlabelled: {cfg.model.unlabelled} does not exist; give a folder or file of "
                              "article files, or leave it out")

    @classmethod
    def fit(cls, ctx: FitContext) -> Fitted:
        import torch

        from trainer import hardware
        from trainer.models.student.static import StaticNetwork, fit_static
        from trainer.models.student.teacher import load_teacher, read_unlabelled, teacher_record, teacher_scores
        from trainer.models.student.vocabulary import static_vocabulary

        cfg, data, m = ctx.cfg, ctx.data, ctx.cfg.model
        torch.set_num_threads(hardware.thread_count(cfg.train.threads, 1))
        started = time.perf_counter()
        names = [s.target for s in data.spaces]
        targets = [s.as_target() for s in data.spaces]
        texts = list(data.splits["train"]["text"])
        unlabelled = None
        if m.unlabelled is not None:
            extra, unlabelled = read_unlabelled(m.unlabelled, data.dataset_dir,
                                                data.splits["test"]["text"] if "test" in data.splits else [])
            texts += extra
            notice(ctx.progress, f"model.unlabelled: {unlabelled['kept']} of {unlabelled['files']} files' articles "
                                 f"kept ({unlabelled['rejected']} rejected, {unlabelled['in_test_split']} in the test "
                                 f"split, {unlabelled['duplicate']} duplicates, {unlabelled['not_articles']} not "
                                 "article files)")
        val_texts = list(data.splits["validation"]["text"]) if "validation" in data.splits else []

        teacher = load_teacher(m.teacher, data.spaces, cfg.eval.batch_size)
        soft = teacher_scores(teacher, texts, names)
        val_soft = teacher_scores(teacher, val_texts, names)
        teacher_seconds = time.perf_counter() - started
        del teacher

        vocab = static_vocabulary(m, cfg.train.seed, ctx.progress)
        reader = StaticNetwork(vocab.vectors, {}, vocab.tokenizer_json, m.max_tokens)
        ids, val_ids = reader.token_ids(texts), reader.token_ids(val_texts)
        weights = {t.name: t.loss_weight for t in cfg.task.targets} if cfg.task.targets else {}
        choices = ["frozen", "tuned"] if m.embeddings == "auto" else [m.embeddings]
        fits = {c: fit_static(vocab.vectors, vocab.tokenizer_json, ids, soft, val_ids, val_soft, targets, m,
                              tuned=c == "tuned", seed=cfg.train.seed, loss_weights=weights) for c in choices}
        picked = min(choices, key=lambda c: fits[c].validation_loss)
        seconds = time.perf_counter() - started

        settings = {"student": "static", "max_length": m.max_tokens, "hidden": m.hidden, "embeddings": picked,
                    "teacher": teacher_record(m.teacher),
                    "vocabulary": {"encoder": vocab.encoder, "sha256": vocab.key, "pca_dims": m.pca_dims},
                    "validation_loss": {c: round(f.validation_loss, 6) for c, f in fits.items()}}
        model = cls(fits[picked].network, ModelSpec(cls.type, targets, settings))
        seen = sum(len(texts) * len(f.log_rows) for f in fits.values())   # one log row per epoch run
        stats = {"train_seconds": round(seconds, 3), "train_wall_seconds": round(seconds, 3),
                 "teacher_scoring_seconds": round(teacher_seconds, 3),
                 "train_examples_per_s": round(seen / max(seconds, 1e-9), 2),
                 # optimizer steps up to the kept epoch (the best on validation)
                 "global_step": fits[picked].epochs * -(-len(texts) // m.batch_size),
                 "student_best_epoch": fits[picked].epochs, "student_examples": len(texts),
                 "embeddings": picked, "model_parameters": model.num_parameters}
        if unlabelled is not None:
            stats["unlabelled"] = unlabelled
        rows = [{"step": r["epoch"], **r} for c in choices for r in fits[c].log_rows]
        return Fitted(model, stats, log_rows=rows)

    @classmethod
    def load(cls, model_dir: Path, spec: ModelSpec, options: ScoreOptions) -> "StudentClassifier":
        if options.quantize != "none":
            raise ConfigError(f"quantize {options.quantize}: a static student is a table of token vectors and a "
                              "small head; leave quantize at none")
        if options.runtime != "torch":
            raise ConfigError(f"runtime {options.runtime}: a static student scores with numpy and has no export; "
                              "leave the runtime at its default")
        from trainer.models.student.static import StaticNetwork
        network = StaticNetwork.load(model_dir, spec.targets, int(spec.settings.get("max_length", 512)))
        return cls(network, spec, options)

    @classmethod
    def export_refusal(cls, fmt: str) -> str:
        return (f"student models cannot be exported to {fmt}: a static student already scores without torch "
                "(numpy and tokenizers: a vector lookup, a mean and a small head)")

    def save_weights(self, model_dir: Path) -> None:
        self.network.save(Path(model_dir))

    def score_targets(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        return self.network.score(list(texts), self.targets)

    def reading_description(self) -> str:
        return f"the first {self.network.max_length} tokens of each text (static vectors, mean-pooled)"

    @property
    def num_parameters(self) -> int:
        return self.network.num_parameters
