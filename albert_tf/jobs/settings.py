"""Every fine-tuning setting, declared once: name, type, default and help become both the dataclass
field the job reads and the absl flag the entry script defines (`define_flags`).

`RunnerSettings` holds what every task family shares; `ClassifierSettings` and `SquadSettings` add
their own. A family that needs another default (SQuAD's longer windows) declares the field again
with its own default and help; nothing else restates a default.
"""

import dataclasses
import typing
from typing import Dict, List, Optional

from absl import flags

from albert_tf.tokenization import settings_flags
from albert_tf.training import cpu_features

_REQUIRED = object()


def setting(default, help_text: str, *, choices=None, alias: Optional[str] = None, flag: bool = True):
    """A settings field that is also an absl flag (`choices`: an enum flag; `alias`: a second flag name)."""
    metadata = {"help": help_text, "choices": choices, "alias": alias, "flag": flag}
    if default is _REQUIRED:
        return dataclasses.field(metadata={**metadata, "required": True})
    return dataclasses.field(default=default, metadata=metadata)


def required(help_text: str):
    """A field the job cannot run without; its flag defaults to None and the entry script names it."""
    return setting(_REQUIRED, help_text)


def tokenizer_setting():
    """`--do_lower_case` / `--keep_accents`: None unless given, so the recorded tokenizer settings win."""
    return dataclasses.field(default=None, metadata={"flag": False, "tokenizer": True})


def _define(name: str, kind, default, meta, flag_values):
    """One absl flag from a field's type."""
    help_text, choices = meta["help"], meta["choices"]
    kind = typing.get_args(kind)[0] if typing.get_origin(kind) is typing.Union else kind
    if choices:
        flags.DEFINE_enum(name, default, choices, help_text, flag_values=flag_values)
    elif kind is bool:
        flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
    elif kind is int:
        flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)
    elif kind is float:
        flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
    elif typing.get_origin(kind) is list:
        flags.DEFINE_list(name, default, help_text, flag_values=flag_values)
    else:
        flags.DEFINE_string(name, default, help_text, flag_values=flag_values)
    if meta["alias"]:
        flags.DEFINE_alias(meta["alias"], name, flag_values=flag_values)


def define_flags(settings_class, flag_values=flags.FLAGS):
    """Defines one absl flag per field of `settings_class`: the family's own fields first (its task and data,
    in `--help` before the shared ones), then the inherited ones, each group in declaration order."""
    hints = typing.get_type_hints(settings_class)
    own = settings_class.__dict__.get("__annotations__", {})
    fields = dataclasses.fields(settings_class)
    tokenizer_defined = False
    for field in [f for f in fields if f.name in own] + [f for f in fields if f.name not in own]:
        if field.metadata.get("tokenizer"):
            if not tokenizer_defined:
                settings_flags.define_tokenizer_flags(flag_values)
                tokenizer_defined = True
        elif field.metadata.get("flag", False):
            default = None if field.metadata.get("required") else field.default
            _define(field.name, hints[field.name], default, field.metadata, flag_values)


def from_flags(settings_class, flag_values=flags.FLAGS, overrides: Optional[Dict] = None):
    """The settings of the parsed flags; tokenizer settings only when given; `overrides` win."""
    values = {f.name: flag_values[f.name].value for f in dataclasses.fields(settings_class)
              if f.name in flag_values}
    values.update(settings_flags.explicit_settings(flag_values))
    values.update(overrides or {})
    return settings_class(**values)


def missing_required(settings_class, flag_values=flags.FLAGS) -> List[str]:
    """The required settings whose flags were not given."""
    return [f.name for f in dataclasses.fields(settings_class)
            if f.metadata.get("required") and not flag_values[f.name].value]


@dataclasses.dataclass(kw_only=True)
class RunnerSettings:
    """What every fine-tuning job shares (families add their data, length and head settings)."""

    output_dir: str = required("Results, the best model, predictions, logs.")
    cache_dir: Optional[str] = setting(None, "Tokenized-feature cache (default: <output_dir>/feature_cache).")
    # Model and tokenizer
    init_checkpoint: Optional[str] = setting(
        None, "Pretrained or fine-tuned weights in any supported layout (TF1 Google, TF-Hub, brightmart, Hugging "
        "Face, .keras, or a model directory written by a fine-tuning run); its config json is read from next to it.")
    albert_config_file: Optional[str] = setting(None, "Model config json (default: next to --init_checkpoint).")
    preset: Optional[str] = setting(None, "A released model's config by name (e.g. albert_base_v2).")
    vocab_file: Optional[str] = setting(None, "SentencePiece .model, WordPiece vocab.txt, or a directory with "
                                        "tokenizer_config.json (default: the tokenizer stored next to "
                                        "--init_checkpoint).")
    do_lower_case: Optional[bool] = tokenizer_setting()
    keep_accents: Optional[bool] = tokenizer_setting()
    max_seq_length: int = setting(128, "Tokens per sequence, [CLS]/[SEP] included.")
    # Optimization
    train_batch_size: int = setting(32, "Global training batch.")
    predict_batch_size: int = setting(64, "Global prediction batch (the last batch is filled, never dropped).")
    learning_rate: float = setting(2e-5, "Peak AdamW learning rate.")
    num_train_epochs: float = setting(3.0, "Epochs over the training data (ignored when --train_steps > 0).")
    train_steps: int = setting(0, "Optimizer steps (0: from --num_train_epochs).")
    warmup_proportion: float = setting(0.1, "Warmup as a fraction of the steps.")
    warmup_steps: int = setting(-1, "Warmup steps (overrides --warmup_proportion when >= 0).")
    weight_decay: float = setting(0.01, "AdamW decoupled weight decay (not on LayerNorm or bias).")
    seed: int = setting(12345, "Seed of the head initialization, dropout and shuffling.")
    num_seeds: int = setting(1, "Runs with seeds seed, seed+1, ... (each in <output_dir>/seed_N); reports mean, "
                             "median and max of the main metric.")
    # What to do
    do_train: bool = setting(False, "Fine-tune on the training data.")
    do_eval: bool = setting(False, "Evaluate on the labelled dev data; writes eval_results.json.")
    do_predict: bool = setting(False, "Write predictions for the test data.")
    eval_every_steps: int = setting(0, "Evaluate every N steps and keep the best checkpoint by the task's main "
                                    "metric (0: evaluate once, at the end).")
    early_stopping_patience: int = setting(0, "Stop training after this many evaluations in a row without a "
                                           "better main metric; the best checkpoint is kept (0: never stop "
                                           "early).")
    save_checkpoints_steps: int = setting(1000, "Write the training state (weights, optimizer, step, best score "
                                          "so far) every N steps and at the end, under <output_dir>/resume/: the "
                                          "same command resumes a killed run there and does not retrain a "
                                          "finished one (0: only at the end).")
    log_every_steps: int = setting(50, "Progress line every N steps.")
    export_dir: Optional[str] = setting(None, "Export the final (best) model as a raw-text SavedModel, checked by a "
                                        "fresh-process reload.")
    # Runtime (names and meanings as in run_pretraining.py)
    strategy: str = setting("one_device", "Distribution strategy.",
                            choices=["tpu", "mirrored", "multi_worker_mirrored", "one_device", "cpu"])
    tpu: str = setting("", "TPU name or grpc:// address; empty or 'local' on a TPU VM.")
    mixed_precision: str = setting("off", cpu_features.PRECISION_HELP, choices=cpu_features.PRECISION_CHOICES)
    jit_compile: bool = setting(False, "Compile the train step with XLA.")
    steps_per_loop: int = setting(1, "Steps per compiled call (amortizes host overhead; run_pretraining.py's "
                                  "name).", alias="steps_per_execution")
    cpu_devices: int = setting(0, "Split the CPU into this many logical devices.")
    deterministic_ops: bool = setting(False, "Ask TensorFlow for deterministic kernels.")
    static_shapes: bool = setting(False, "Pad every batch to --max_seq_length (always on with --strategy=tpu).")

    @property
    def static(self) -> bool:
        return self.static_shapes or self.strategy == "tpu"


@dataclasses.dataclass(kw_only=True)
class ClassifierSettings(RunnerSettings):
    """run_classifier.py: GLUE / CLUE / LCQMC / RACE and user tasks."""

    task_name: str = required("Task (GLUE, CLUE, LCQMC, RACE); 'help' lists them.")
    task_module: Optional[List[str]] = setting(
        None, "Your own tasks: module names or .py files whose @register classes join the registry (see "
        "docs/finetuning.md); installed entry points of group albert_tf.tasks load too.")
    data_dir: str = required("Directory with the task's files (e.g. glue_data/MRPC).")
    max_unknown_rate: float = setting(0.1, "Refuse a split whose tokens are more than this fraction unknown to the "
                                      "tokenizer (e.g. Chinese text with an English model); above 1% a warning is "
                                      "logged.")
    max_qa_length: int = setting(128, "Multiple choice: tokens kept of question+option.")
    classifier_dropout: float = setting(0.1, "Dropout on the pooled output before the classifier.")
    eval_batch_size: int = setting(64, "Global evaluation batch (the last batch is padded, never dropped).")


@dataclasses.dataclass(kw_only=True)
class SquadSettings(RunnerSettings):
    """run_squad.py: SQuAD v1.1 / v2.0 and SQuAD-format CMRC2018."""

    version: str = setting("1.1", "SQuAD version; checked against the data (2.0 allows unanswerable questions).",
                           choices=["1.1", "2.0"])
    train_file: Optional[str] = setting(None, "SQuAD-format json for training.")
    predict_file: Optional[str] = setting(None, "SQuAD-format json to predict (and evaluate with --do_eval).")
    max_seq_length: int = setting(384, "Tokens per window, [CLS]/[SEP] included.")
    doc_stride: int = setting(128, "Context tokens between the starts of consecutive windows.")
    max_query_length: int = setting(64, "Question tokens kept (longer questions are truncated, counted).")
    n_best_size: int = setting(20, "Candidates per window and answers in nbest_predictions.json.")
    max_answer_length: int = setting(30, "Longest answer, in tokens (Chinese data has longer answers: see "
                                     "docs/squad.md).")
    eval_metric: str = setting("auto", "Official metric of --do_eval: auto picks CMRC2018 for Chinese (a Chinese "
                               "WordPiece vocabulary, or mostly Chinese contexts), SQuAD otherwise.",
                               choices=["auto", "squad", "cmrc2018"])
    squad_head: str = setting("auto", "auto: span for 1.1, the XLNet-style answerability head for 2.0; cls_null: "
                              "span head with [CLS] as the null answer.", choices=["auto", "span", "xlnet", "cls_null"])
    start_n_top: int = setting(5, "XLNet-style head: start beam.")
    end_n_top: int = setting(5, "XLNet-style head: end beam per start.")
    null_score_diff_threshold: Optional[float] = setting(
        None, "v2: predict '' above this null score (default: the threshold stored with the model, else 0; "
        "--do_eval searches the F1-optimal one).")
    train_batch_size: int = setting(48, "Global training batch (windows).")
    learning_rate: float = setting(5e-5, "Peak AdamW learning rate (reference: 5e-5 for 1.1, 3e-5 for 2.0).")
    num_train_epochs: float = setting(2.0, "Epochs over the training windows (ignored when --train_steps > 0).")

    @property
    def head(self) -> str:
        if self.squad_head != "auto":
            return self.squad_head
        return "xlnet" if self.version == "2.0" else "span"


@dataclasses.dataclass(kw_only=True)
class NerSettings(RunnerSettings):
    """run_ner.py: named-entity recognition on CoNLL column files or CLUENER json lines."""

    train_file: Optional[str] = setting(None, "Tagged training data: CoNLL columns (word first, tag last) or "
                                        "CLUENER json lines; the format is told by the content.")
    eval_file: Optional[str] = setting(None, "Tagged dev data (same formats) for --do_eval and --eval_every_steps.")
    predict_file: Optional[str] = setting(None, "Data to tag for --do_predict (tags, if present, are ignored).")
    label_scheme: str = setting("auto", "Tag scheme of CoNLL files (auto: detected per file); read tags are "
                                "converted to IOB2.", choices=["auto", "IOB1", "IOB2", "BIOES", "BILOU"])
    nested_entities: str = setting("refuse", "CLUENER spans nested inside another span (CLUENER's own train file "
                                   "has them): refuse names each file:line; outer keeps the outer span and logs "
                                   "every dropped inner one.", choices=["refuse", "outer"])
    doc_stride: int = setting(64, "Pieces between the starts of consecutive windows of a sentence longer than "
                              "--max_seq_length (each word is scored in the window where it has most context).")
    classifier_dropout: float = setting(0.1, "Dropout on the sequence output before the tagging layer.")
    learning_rate: float = setting(5e-5, "Peak AdamW learning rate.")
