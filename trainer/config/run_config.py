"""Schema of a run config (`trainer train CONFIG`). Defaults and field documentation live here, nowhere else.

`trainer validate --explain KEY` prints any field's description. The `model` section is a union
on `model.type`: each model kind has its own section, and keys of another kind are refused.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Discriminator, Field, Tag, model_serializer, model_validator

from trainer import metric_names
from trainer.config.loader import StrictModel, _union_members
from trainer.config.tune_section import TuneSection


class DataRef(StrictModel):
    """Which dataset the run trains and evaluates on."""
    dataset: str | None = Field(None, description="Dataset directory written by `trainer data build`. A relative "
                                                  "path is taken from the config's base folder (the folder holding "
                                                  "its configs/ folder, else the config's own folder).")
    build: str | None = Field(None, description="Data config that builds `data.dataset` on first use, when that "
                                                "directory does not exist yet (relative: from the config's base "
                                                "folder, like data.dataset).")
    limit: int | None = Field(None, ge=1, description="Use at most this many examples of each split (smoke tests).")

    @model_validator(mode="after")
    def _one(self):
        if not self.dataset and not self.build:
            raise ValueError("data: give data.dataset (a dataset directory) or data.build (a data config)")
        return self


TargetName = Literal["topics", "topic", "regions"]
Problem = Literal["multi_label", "single_label"]


class TargetConfig(StrictModel):
    """One target of a multi-task model (an entry of task.targets)."""
    name: TargetName = Field(description="Label column of the dataset: topics (label lists), topic (one label), "
                                         "regions.")
    problem: Problem = Field("multi_label", description="multi_label (sigmoid per label) or single_label (softmax).")
    min_label_count: int = Field(1, ge=1, description="This target's labels with fewer training examples are "
                                                      "dropped.")
    loss_weight: float = Field(1.0, gt=0, description="Weight of this head's loss in the sum over heads.")
    gazetteer: bool = Field(
        False, description="regions only: combine the head's scores with the region labeller's (place names in the "
                           "text), the combination picked on validation; reported beside both.")


class TaskConfig(StrictModel):
    """What the model predicts: one target (target/problem/min_label_count), or several (targets)."""
    target: TargetName | Literal["auto"] = Field(
        "topics", description="Label column of the dataset: topics (label lists), topic (one label), regions. "
                              "auto: the dataset's topic column, topics or topic, whichever its build wrote "
                              "(resolved at run start; config.yaml records it).")
    problem: Problem | Literal["auto"] = Field(
        "multi_label", description="multi_label: any number of labels per text (sigmoid per label); "
                                   "single_label: exactly one (softmax). auto: as the dataset's target column "
                                   "holds them (label lists: multi_label; one label: single_label), resolved at "
                                   "run start.")
    min_label_count: int = Field(1, ge=1, description="Labels with fewer training examples are dropped.")
    targets: list[TargetConfig] | None = Field(
        None, description="Several targets from one model (multi-task): one head each on one encoder. A document "
                          "without a label for a target (an empty list, e.g. a Reuters story with no PLACES) is "
                          "unlabelled for it: it adds no loss to that head and is left out of that target's "
                          "metrics. Replaces task.target/problem/min_label_count.")

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        # the resolved config.yaml holds one form: a run with task.targets does not also name task.target
        data = handler(self)
        if self.targets is not None:
            for key in ("target", "problem", "min_label_count"):
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _one_form(self):
        if self.targets is None:
            return self
        # a config extending a one-target config inherits its (default) target/problem: only other values clash
        single = [k for k in ("target", "problem", "min_label_count")
                  if getattr(self, k) != type(self).model_fields[k].default]
        if single:
            raise ValueError(f"task: give either task.targets or task.{'/'.join(sorted(single))}, not both")
        names = [t.name for t in self.targets]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"task.targets: give each target once (got {', '.join(names) or 'none'})")
        for t in self.targets:
            if t.gazetteer and t.name != "regions":
                raise ValueError(f"task.targets: gazetteer applies to the regions target, not {t.name!r}")
            if t.name == "topic" and t.problem == "multi_label":
                raise ValueError("task.targets: target 'topic' is single-label; set its problem: single_label")
        return self

    def resolved(self) -> list[TargetConfig]:
        """The targets, whichever form the config used (one target: unlabelled documents still count)."""
        if self.targets is not None:
            return list(self.targets)
        if self.auto:   # a bug of the caller, not a user error: resolve against the dataset first
            raise ValueError("task.target/problem auto: resolve them against the dataset first "
                             "(trainer.data.label_space.resolve_task)")
        return [TargetConfig(name=self.target, problem=self.problem, min_label_count=self.min_label_count)]

    @property
    def auto(self) -> bool:
        """task.target or task.problem is `auto`: taken from the dataset at run start."""
        return self.targets is None and "auto" in (self.target, self.problem)

    @property
    def several(self) -> bool:
        """task.targets form: documents without a target's label are skipped for it."""
        return self.targets is not None


class ReadingConfig(StrictModel):
    """How a text longer than model.max_length is read: the same at training, evaluation, predict and serve."""
    mode: Literal["truncate", "windows", "auto"] = Field(
        "truncate", description="truncate: one window, cut as model.truncation says. windows: overlapping windows "
                                "of max_length tokens over the whole text, their logits pooled per text. auto: "
                                "truncate or windows (and its pool) picked on the run's own training split (the "
                                "`tune` section; model.reading.pool is then picked too).")
    stride: int | None = Field(
        None, ge=1, description="windows: text tokens between window starts; null: half a window (windows "
                                "overlap). Longer than the window is refused (tokens would be skipped).")
    max_windows: int = Field(8, ge=1, description="windows: at most this many per text; a longer text gets them "
                                                  "spread evenly from its start to its end.")
    pool: Literal["max", "mean", "attention"] = Field(
        "max", description="windows: how window logits combine into the text's: max (any window), mean, or "
                           "attention (per label, windows weighted by the softmax of their logits: between the two).")
    train: Literal["head", "windows"] = Field(
        "head", description="windows mode: what a training text contributes: its head (one example), or every "
                            "window, each labelled with the text's labels (more examples: slower training).")


class TransformerModel(StrictModel):
    """A fine-tuned Hugging Face encoder with a pooled linear head (`model.type: transformer`)."""
    type: Literal["transformer"] = Field("transformer", description="Model kind.")
    name: str = Field("minilm-l6", description="Pretrained encoder: an alias (minilm-l6), a local Hugging Face "
                                               "model directory, or a hub id already in the local cache.")
    init: Literal["pretrained", "random"] = Field(
        "pretrained", description="pretrained: load the encoder's weights; random: build it from its config (tests).")
    config_overrides: dict[str, Any] = Field(
        default_factory=dict, description="Encoder config values to change, e.g. {num_hidden_layers: 2}; each "
                                          "must keep the type of the encoder config's own value.")
    max_length: int = Field(256, ge=8, le=8192, description="Tokens per text (special tokens included).")
    truncation: Literal["head", "head_tail"] = Field(
        "head", description="Texts longer than max_length: keep the head, or ~1/4 head + ~3/4 tail (Sun et al. 2019).")
    pooling: Literal["mean", "cls"] = Field("mean", description="Text vector: mean of the token vectors, or the first "
                                                                "([CLS]) token's.")
    reading: ReadingConfig = Field(default_factory=ReadingConfig,
                                   description="How texts longer than max_length are read (saved with the model: "
                                               "evaluate, predict and serve read them the same way).")
    prior_bias: bool = Field(True, description="Initialise the classifier bias to the label log-priors.")
    loss: Literal["bce", "distribution_balanced", "asymmetric"] = Field(
        "bce", description="Multi-label training loss. bce: binary cross-entropy. distribution_balanced: re-balanced "
                           "weights + negative-tolerant regularisation + focal term (Wu et al. 2020; Huang et al. "
                           "2021's Reuters settings), for labels with few training documents. asymmetric: ASL "
                           "(Ridnik et al. 2021). Single-label targets always use cross-entropy.")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout before the classifier head.")
    attention_dropout: float | None = Field(
        0.0, ge=0, lt=1,
        description="Dropout on the attention probabilities; null keeps the pretrained config's value. 0 by default: "
                    "with it, PyTorch's CPU attention leaves the fused kernel for the math path and draws a "
                    "B x heads x L x L random mask per layer (training steps 1.5x slower at 192 tokens).")
    attention: Literal["auto", "eager", "sdpa"] = Field(
        "auto", description="Attention kernel for training (checkpoints load with the library default). auto: eager "
                            "(matmul + softmax) on CPU, where steps run 1.25-1.5x faster than with SDPA, whose "
                            "backward pass is slow there; sdpa on GPU.")


class TfidfConfig(StrictModel):
    """TF-IDF features and the linear classifier on them."""
    ngram_max: int = Field(2, ge=1, le=3, description="Word n-grams from 1 to this length.")
    min_df: int = Field(2, ge=1, description="Ignore terms found in fewer training documents.")
    max_features: int | None = Field(200_000, ge=1, description="Keep the most frequent terms; null keeps all.")
    sublinear_tf: bool = Field(True, description="Use 1 + log(tf) instead of the raw term frequency.")
    classifier: Literal["svm", "logreg"] = Field("svm", description="svm: LinearSVC; logreg: logistic regression.")
    C: float = Field(1.0, gt=0, description="Inverse regularisation strength of the classifier.")


class TfidfLinearModel(StrictModel):
    """A TF-IDF + linear classifier baseline, fitted in seconds (`model.type: tfidf-linear`)."""
    type: Literal["tfidf-linear"] = Field("tfidf-linear", description="Model kind.")
    tfidf: TfidfConfig = Field(default_factory=TfidfConfig, description="Features and classifier.")


class GazetteerModel(StrictModel):
    """Region labels from the place names in the text, no training (`model.type: gazetteer`): the region
    labeller that builds the dataset's region labels, as a model."""
    type: Literal["gazetteer"] = Field("gazetteer", description="Model kind.")
    granularity: Literal["region", "subregion", "country"] | None = Field(
        None, description="UN M49 level of the labels; null: the dataset's own (its labels.region.granularity).")
    min_mentions: int | None = Field(
        None, ge=1, description="A place named this often in the body counts (the title and dateline always do); "
                                "null: the dataset's labels.region.min_mentions.")


class StudentModel(StrictModel):
    """A small model trained on a trained run's scores (`model.type: student`): the teacher's probabilities over
    the training split (and optional unlabelled text) are its soft labels; it answers every target of the teacher."""
    type: Literal["student"] = Field("student", description="Model kind.")
    teacher: str = Field(description="Run directory of the teacher: any trained run (transformer, ensemble, "
                                     "multi-task) on the same dataset and task; its config hash is recorded with "
                                     "the student.")
    student: Literal["static"] = Field(
        "static", description="static: model2vec static token vectors distilled from model.encoder, mean-pooled, "
                              "with a trained head.")
    unlabelled: str | None = Field(
        None, description="Optional folder or file of in-domain article files (scraped text, HTML) the teacher "
                          "labels too, read with the same readers and cleaning as the dataset; never the test "
                          "split.")
    encoder: str = Field("minilm-l6", description="Sentence encoder the static vectors are distilled from: an alias "
                                                  "(minilm-l6) or a local Hugging Face model directory.")
    init: Literal["pretrained", "random"] = Field(
        "pretrained", description="pretrained: the encoder's weights; random: built from its config (tests).")
    config_overrides: dict[str, Any] = Field(
        default_factory=dict, description="Encoder config values to change before distilling (tests: a tiny "
                                          "encoder), e.g. {num_hidden_layers: 1}.")
    pca_dims: int | None = Field(256, ge=2, description="Dimensions the static vectors are reduced to by PCA "
                                                        "(model2vec's default); null: the encoder's own.")
    vocabulary_cache: str | None = Field(
        None, description="Folder of distilled vocabularies, one per encoder weights hash and settings; null: "
                          "$XDG_CACHE_HOME/trainer/static-vocabulary (~/.cache/...). Distilled once, reused by "
                          "every run.")
    max_tokens: int = Field(512, ge=1, description="Tokens of each text the static student reads (its head).")
    hidden: int = Field(512, ge=0, description="Width of the head's hidden layer (ReLU); 0: a linear head.")
    embeddings: Literal["auto", "frozen", "tuned"] = Field(
        "auto", description="Static vectors during training: frozen, tuned with the head, or auto: both fitted, "
                            "the one with the lower loss against the teacher's validation scores kept.")
    epochs: int = Field(30, ge=1, description="Passes over the training texts at most.")
    patience: int = Field(3, ge=1, description="Stop after this many epochs without a lower validation loss; the "
                                               "best epoch's weights are kept.")
    learning_rate: float = Field(3e-3, gt=0, description="AdamW learning rate of the head (tuned vectors: a tenth "
                                                         "of it).")
    batch_size: int = Field(32, ge=1, description="Texts per optimizer step.")


def _model_kind(value: Any) -> str:
    """The union's tag: `type` as written, "transformer" when it is left out."""
    if isinstance(value, dict):
        return value.get("type", "transformer")
    return getattr(value, "type", "transformer")


MemberModelConfig = Annotated[
    Union[Annotated[TransformerModel, Tag("transformer")], Annotated[TfidfLinearModel, Tag("tfidf-linear")]],
    Discriminator(_model_kind, custom_error_type="unknown_model_type",
                  custom_error_message="unknown member model.type; use transformer or tfidf-linear"),
]


class EnsembleMember(StrictModel):
    """One model of an ensemble: its model section (fitted with the ensemble) or a trained run to take it from,
    its own changes to the run's train section, its weight."""
    model: MemberModelConfig | None = Field(
        None, description="The member's model section (transformer or tfidf-linear), fitted with the ensemble.")
    run: str | None = Field(
        None, description="Instead of model: a run directory trained on the same dataset whose model is taken as "
                          "it is (its training time counts as the member's).")
    train: dict[str, Any] = Field(
        default_factory=dict, description="Keys of the run's train section this member sets differently, e.g. "
                                          "{class_weights: balanced} for a linear member.")
    weight: Annotated[float, Field(ge=0)] | Literal["auto"] = Field(
        1.0, description="Weight of the member's scores in the combination (normalised; 0 leaves the member out of "
                         "the answer). auto: picked on the run's own training split (the `tune` section), on a "
                         "simplex grid of step 0.1; give it to every member or to none.")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.model is None) == (self.run is None):
            raise ValueError("give a member exactly one of model (a model section to fit) or run (a trained run)")
        return self


class EnsembleModel(StrictModel):
    """Several models trained together on the run's data, scored as one (`model.type: ensemble`): every
    member is fitted, saved under model/members/NAME/, and their per-label scores are combined."""
    type: Literal["ensemble"] = Field("ensemble", description="Model kind.")
    members: dict[str, EnsembleMember] = Field(
        min_length=1, description="Members by name (a folder name: letters, digits, - and _).")
    combine: Literal["mean_probability", "mean_logit"] = Field(
        "mean_probability", description="How member scores combine per label: the weighted mean of the "
                                        "probabilities, or of the log-odds (then a sigmoid / softmax).")

    @model_validator(mode="after")
    def _names(self):
        import re
        bad = [n for n in self.members if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", n)]
        if bad:
            raise ValueError(f"member names must be folder names (letters, digits, - and _): {', '.join(bad)}")
        auto = [n for n, m in self.members.items() if m.weight == "auto"]
        if auto and len(auto) != len(self.members):
            fixed = [n for n in self.members if n not in auto]
            raise ValueError(f"model.members: weight auto on {', '.join(auto)} but not on {', '.join(fixed)}; the "
                             "weights are picked together: set weight: auto on every member, or numbers on all")
        if not auto and sum(float(m.weight) for m in self.members.values()) <= 0:
            raise ValueError("model.members: every weight is 0; give at least one member a positive weight")
        return self


ModelConfig = Annotated[
    Union[Annotated[TransformerModel, Tag("transformer")], Annotated[TfidfLinearModel, Tag("tfidf-linear")],
          Annotated[GazetteerModel, Tag("gazetteer")], Annotated[EnsembleModel, Tag("ensemble")],
          Annotated[StudentModel, Tag("student")]],
    Discriminator(_model_kind, custom_error_type="unknown_model_type",
                  custom_error_message="unknown model.type; use transformer, tfidf-linear, gazetteer, ensemble or "
                                       "student"),
]


class TrainSection(StrictModel):
    """Optimisation (transformer kinds) and the seed every kind uses."""
    epochs: float = Field(4, gt=0, description="Passes over the training split.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (overrides epochs).")
    learning_rate: float = Field(1e-4, gt=0, description="Encoder learning rate.")
    head_lr_multiplier: float = Field(10.0, gt=0, description="The classifier head learns this many times faster.")
    batch_size: int = Field(16, ge=1, description="Examples per device per step.")
    gradient_accumulation: int = Field(1, ge=1, description="Steps whose gradients are summed before an update.")
    warmup_ratio: float = Field(0.06, ge=0, lt=1, description="Linear warm-up share of the training steps.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay (not on biases and norms).")
    seed: int = Field(42, description="Seed of every random generator of the run.")
    early_stopping_patience: int | None = Field(
        2, ge=1, description="Stop after this many evaluations without improvement; null: off.")
    eval_every: Literal["epoch"] | Annotated[int, Field(ge=1)] = Field(
        "epoch", description="Evaluate (and checkpoint) every epoch, or every this many optimizer steps.")
    logging_steps: int = Field(50, ge=1, description="Log the training loss every this many steps.")
    class_weights: Literal["none", "balanced"] = Field(
        "none", description="balanced: weight rare labels up (BCE pos_weight, capped; CE class weights).")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto: bf16 where the hardware has it natively (AVX512-BF16/AMX CPUs, recent GPUs).")
    group_by_length: bool = Field(True, description="Batch texts of similar length together (less padding).")
    threads: int | None = Field(None, ge=1, description="Torch threads; null: the cores available to this process.")
    resume: bool = Field(False, description="Continue an interrupted run from its newest complete checkpoint.")


class ChunkingConfig(StrictModel):
    """What-if chunk-and-pool scoring of long texts in the report (transformer kinds). The model's own reading
    (what predict and serve do) is model.reading."""
    enabled: bool = Field(False, description="Also score strided windows over the whole text, pooled per text, "
                                             "and report it beside the model's own reading (report only).")
    stride: int | None = Field(None, ge=1, description="Text tokens between window starts; null: half a window "
                                                      "(windows overlap). Longer than the window is refused.")
    max_chunks: int = Field(8, ge=1, description="At most this many windows per text.")
    pool: Literal["mean", "max"] = Field("max", description="How window logits combine into the text's.")


# the metric choices come from the metric vocabulary (one table), not a copy of its names
SelectableMetric = Literal[metric_names.SELECTABLE]
FusionMetric = Literal[metric_names.FUSION]


class EvalSection(StrictModel):
    """Evaluation, decision thresholds and model selection."""
    metric: SelectableMetric = Field(
        "micro_f1", description="Validation metric that picks the best checkpoint (with several targets: its mean "
                                "over the targets); compare's default sort key.")
    thresholds: Literal["none", "global", "per_label", "per_bucket", "auto"] = Field(
        "per_label", description="Multi-label decision thresholds tuned on validation: none (0.5), one global "
                                 "value, one per label, or one per label-frequency bucket (>=100, 20-99, 5-19, <5 "
                                 "training documents; values in eval.bucket_thresholds are fixed, the other buckets "
                                 "tuned). auto: one per bucket, picked on out-of-fold scores of the run's own "
                                 "training split (the `tune` section), not on validation.")
    bucket_thresholds: dict[Literal[">=100", "20-99", "5-19", "<5"], float] = Field(
        default_factory=dict,
        description="per_bucket or auto: fixed thresholds of some buckets, e.g. {'5-19': 0.35, '<5': 0.3}: rare "
                    "labels have too few validation documents to tune theirs (choose them on training data).")
    threshold_min_positives: int = Field(
        3, ge=1, description="per_label / per_bucket: labels (buckets) with fewer validation positives take the "
                             "global value; a validation split with fewer gold labels in all tunes nothing (0.5).")
    threshold_min_documents: int = Field(
        50, ge=1, description="Thresholds are tuned only on a validation split of at least this many documents; "
                              "on a smaller one they stay 0.5 (fixed bucket values still apply), and metrics.json, "
                              "thresholds.json and report.md say why: a threshold tuned on a handful of documents "
                              "fits their noise.")
    at_least_one: bool | Literal["auto"] = Field(
        "auto", description="Multi-label: a text with no label over its threshold gets its top-scoring label. auto: "
                            "on when every training document has a label (then an empty answer is always wrong).")
    batch_size: int = Field(64, ge=1, description="Texts per forward pass when scoring.")
    fusion_metric: FusionMetric = Field(
        "mean_f1", description="A target combined with the gazetteer (task.targets[].gazetteer): the validation "
                               "figure that picks the combination; mean_f1 is the mean of micro- and macro-F1, so "
                               "neither the frequent nor the rare labels are given up for the other.")
    fusion: Literal["validation", "auto"] = Field(
        "validation", description="A target combined with the gazetteer: its rule (head and gazetteer mixed, or "
                                  "their max) picked on validation by eval.fusion_metric, or (auto) on out-of-fold "
                                  "scores of the training split by tune.metric (the `tune` section). A run that "
                                  "tunes any other setting picks the rule on the training split as well.")
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig, description="Chunk-and-pool scoring.")


class OutputSection(StrictModel):
    """Where the run directory goes."""
    dir: str = Field("runs", description="Folder holding run directories; relative (and the default): from the "
                                         "config's base folder (the folder holding its configs/ folder).")
    name: str | None = Field(None, description="Run directory name; default: the config file's stem.")
    predict: list[str] = Field(default_factory=list,
                               description="Article files or folders classified after training (demo); $VARS are "
                                           "expanded, missing paths skipped.")
    predict_examples: int = Field(0, ge=0, description="Also classify this many test documents of the dataset "
                                                       "after training, beside their gold labels (demo).")


class TrackingSection(StrictModel):
    """Experiment tracking."""
    backend: Literal["none", "mlflow"] = Field("none", description="mlflow: log params, metrics and artifacts.")
    uri: str | None = Field(None, description="Tracking store; default: sqlite:///<output.dir>/.mlflow/mlflow.db "
                                              "(browse it: mlflow ui --backend-store-uri sqlite:///runs/.mlflow/mlflow.db).")
    experiment: str = Field("trainer", description="MLflow experiment name.")


class RunConfig(StrictModel):
    """A training run: data, task, model, optimisation, evaluation, output and tracking."""
    # file system paths: relative ones in a config file are taken from its base folder (trainer.config.loader)
    path_keys: ClassVar[tuple[str, ...]] = ("data.dataset", "data.build", "output.dir", "output.predict")
    data: DataRef = Field(description="Dataset.")
    task: TaskConfig = Field(default_factory=TaskConfig, description="Target and problem type.")
    model: ModelConfig = Field(default_factory=TransformerModel, description="Model kind and its settings.")
    train: TrainSection = Field(default_factory=TrainSection, description="Optimisation and seed.")
    eval: EvalSection = Field(default_factory=EvalSection, description="Evaluation and thresholds.")
    output: OutputSection = Field(default_factory=OutputSection, description="Run directory.")
    tracking: TrackingSection = Field(default_factory=TrackingSection, description="Experiment tracking.")
    tune: TuneSection = Field(default_factory=TuneSection,
                              description="How `auto` settings are picked on the run's own training split.")

    @model_validator(mode="after")
    def _check(self):
        max_length = getattr(self.model, "max_length", None)
        reading = getattr(self.model, "reading", None)
        # (eval.chunking.stride is checked when it is used: resolved configs of earlier runs hold stride 128
        # beside max_length 128, with chunking off)
        if reading is not None and reading.stride is not None and reading.stride >= max_length:
            raise ValueError(f"model.reading.stride {reading.stride}: not shorter than model.max_length {max_length}, "
                             "so tokens between windows would never be read; use a smaller stride (null: half a "
                             "window)")
        if reading is not None and reading.train == "windows" and reading.mode != "windows":
            raise ValueError("model.reading.train windows needs model.reading.mode: windows")
        if self.task.target == "topic" and self.task.problem == "multi_label":
            raise ValueError("task: target 'topic' is single-label; set task.problem: single_label")
        if self.model.type == "ensemble":
            for name, member in self.model.members.items():
                if member.model is None:
                    continue
                try:
                    member_run_config(self, name)
                except ValueError as exc:
                    raise ValueError(f"model.members.{name}: {exc}") from None
        bad = {k: v for k, v in self.eval.bucket_thresholds.items() if not 0.0 < v < 1.0}
        if bad:
            raise ValueError(f"eval.bucket_thresholds: thresholds must lie strictly between 0 and 1: {bad}")
        if self.eval.bucket_thresholds and self.eval.thresholds not in ("per_bucket", "auto"):
            raise ValueError("eval.bucket_thresholds is only used with eval.thresholds: per_bucket or auto")
        if getattr(self.model, "loss", "bce") != "bce" and self.train.class_weights != "none":
            raise ValueError(f"train.class_weights {self.train.class_weights} with model.loss {self.model.loss}: "
                             "that loss weights labels itself; set train.class_weights: none")
        return self


def model_fields_of(kind: str) -> set[str] | None:
    """The keys a model section of this kind may hold (None: not a known kind)."""
    for section in _union_members(ModelConfig):
        if section.model_fields["type"].default == kind:
            return set(section.model_fields)
    return None


def member_run_config(cfg: RunConfig, name: str) -> RunConfig:
    """The run config an ensemble member is fitted with: the run's, with the member's model section and its
    changes to the train section."""
    member = cfg.model.members[name]
    tree = cfg.model_dump(mode="json")
    tree["model"] = member.model.model_dump(mode="json")
    tree["train"] = {**tree["train"], **member.train}
    return RunConfig.model_validate(tree)
