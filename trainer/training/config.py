"""Schema of a run config (`trainer train CONFIG`). Defaults live here, nowhere else."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from trainer.config import StrictModel


class DataRef(StrictModel):
    dataset: str | None = None   # dataset directory written by `trainer data build`
    build: str | None = None     # data config used to build `dataset` when it does not exist yet
    limit: int | None = Field(None, ge=1)   # use at most this many examples of each split (smoke tests)

    @model_validator(mode="after")
    def _one(self):
        if not self.dataset and not self.build:
            raise ValueError("data: give data.dataset (a dataset directory) or data.build (a data config)")
        return self


class TaskConfig(StrictModel):
    target: Literal["topics", "topic", "regions"] = "topics"   # label column of the dataset
    problem: Literal["multi_label", "single_label"] = "multi_label"
    min_label_count: int = Field(1, ge=1)   # labels with fewer training examples are dropped


class TfidfConfig(StrictModel):
    ngram_max: int = Field(2, ge=1, le=3)
    min_df: int = Field(2, ge=1)
    max_features: int | None = 200_000
    sublinear_tf: bool = True
    classifier: Literal["svm", "logreg"] = "svm"
    C: float = Field(1.0, gt=0)


class ModelConfig(StrictModel):
    type: Literal["transformer", "tfidf-linear"] = "transformer"
    name: str = "minilm-l6"        # alias, local HF directory, or a hub id already in the local cache
    init: Literal["pretrained", "random"] = "pretrained"  # random: build from config (tests)
    config_overrides: dict[str, Any] = Field(default_factory=dict)  # e.g. num_hidden_layers: 2
    max_length: int = Field(256, ge=8, le=8192)
    truncation: Literal["head", "head_tail"] = "head"
    pooling: Literal["mean", "cls"] = "mean"
    prior_bias: bool = True        # initialise the classifier bias to the label log-priors
    dropout: float = Field(0.1, ge=0, lt=1)
    # Dropout on the attention probabilities; null keeps the pretrained config's value. 0 by default:
    # with it, PyTorch's CPU attention falls back from the fused kernel to the math path and draws a
    # B x heads x L x L random mask per layer (measured: training steps 1.5x slower at 192 tokens).
    attention_dropout: float | None = Field(0.0, ge=0, lt=1)
    # The attention kernel used for training (checkpoints load with the library default). auto: eager
    # (matmul + softmax) on CPU, where training steps run 1.25x (192 tokens) to 1.5x (128) faster than
    # with the fused SDPA kernel, whose backward pass is slow there; sdpa (the library default) on GPU.
    attention: Literal["auto", "eager", "sdpa"] = "auto"
    tfidf: TfidfConfig = Field(default_factory=TfidfConfig)


class TrainSection(StrictModel):
    epochs: float = Field(4, gt=0)
    max_steps: int | None = Field(None, ge=1)    # overrides epochs when set (smoke tests)
    learning_rate: float = Field(1e-4, gt=0)     # encoder learning rate
    head_lr_multiplier: float = Field(10.0, gt=0)  # classifier head learns this many times faster
    batch_size: int = Field(16, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    seed: int = 42
    early_stopping_patience: int | None = Field(2, ge=1)  # evaluations without improvement; null = off
    eval_every: Literal["epoch"] | int = "epoch"   # "epoch" or a number of optimizer steps
    logging_steps: int = Field(50, ge=1)
    class_weights: Literal["none", "balanced"] = "none"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    group_by_length: bool = True
    threads: int | None = Field(None, ge=1)        # torch threads; None = physical cores available
    resume: bool = False


class ChunkingConfig(StrictModel):
    enabled: bool = False
    stride: int = Field(128, ge=1)       # tokens between window starts
    max_chunks: int = Field(8, ge=1)
    pool: Literal["mean", "max"] = "max"


class EvalSection(StrictModel):
    metric: Literal["micro_f1", "macro_f1", "accuracy"] = "micro_f1"   # model selection / compare
    thresholds: Literal["none", "global", "per_label"] = "per_label"   # multi-label, tuned on validation
    threshold_min_positives: int = Field(3, ge=1)   # per_label: fewer validation positives -> global value
    # Multi-label: a text with no label over its threshold gets its top-scoring label. auto: on when every
    # training document has a label (then an empty answer is always wrong), as in Reuters ModApte-90.
    at_least_one: bool | Literal["auto"] = "auto"
    batch_size: int = Field(64, ge=1)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)


class OutputSection(StrictModel):
    dir: str = "runs"
    name: str | None = None        # default: the config file's stem
    predict: list[str] = Field(default_factory=list)   # article files/folders to classify after training
                                                        # (demo); $VARS are expanded, missing ones skipped


class TrackingSection(StrictModel):
    backend: Literal["none", "mlflow"] = "none"
    uri: str | None = None          # default: sqlite:///<output.dir>/mlflow.db
    experiment: str = "trainer"


class RunConfig(StrictModel):
    data: DataRef
    task: TaskConfig = Field(default_factory=TaskConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainSection = Field(default_factory=TrainSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    output: OutputSection = Field(default_factory=OutputSection)
    tracking: TrackingSection = Field(default_factory=TrackingSection)

    @model_validator(mode="after")
    def _check(self):
        if self.task.target == "topic" and self.task.problem == "multi_label":
            raise ValueError("task: target 'topic' is single-label; set task.problem: single_label")
        return self
