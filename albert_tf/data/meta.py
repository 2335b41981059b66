"""`dataset_meta.json`: the contract between the generator and the trainer.

Written once, atomically, after every shard is in place, so a directory with a meta file is a
complete dataset. The reader checks records and the model config against it before training.
"""

import dataclasses
import json
import os
from typing import List, Optional

from albert_tf import atomic_files
from albert_tf.model_inputs import (INPUT_MASK, MASKED_LM_IDS, MASKED_LM_POSITIONS, MASKED_LM_WEIGHTS,
                                    RECORD_INPUT_IDS, RECORD_ORDER_LABEL, RECORD_SEGMENT_IDS, TOKEN_BOUNDARY)
from albert_tf.output_errors import writing

META_NAME = "dataset_meta.json"
FORMAT = "albert_tf.pretraining_data"
FORMAT_VERSION = 1

# Feature names of the original TFRecords (int64 unless noted).
SEQUENCE_FEATURES = (RECORD_INPUT_IDS, INPUT_MASK, RECORD_SEGMENT_IDS, TOKEN_BOUNDARY)
PREDICTION_FEATURES = (MASKED_LM_POSITIONS, MASKED_LM_IDS)
WEIGHT_FEATURE = MASKED_LM_WEIGHTS  # float
LABEL_FEATURE = RECORD_ORDER_LABEL  # [1], the SOP/NSP label


class MetaError(ValueError):
    """A dataset_meta.json that is missing, malformed, or disagrees with the data or model."""


@dataclasses.dataclass
class DatasetMeta:
    max_seq_length: int
    max_predictions_per_seq: int
    masking: str                 # "static": masked_lm_* in the records; "dynamic": masked by the reader
    objective: str               # "sop" or "nsp"
    masked_lm_prob: float
    ngram: int
    favor_shorter_ngram: bool
    do_whole_word_mask: bool
    zh_whole_word_mask: bool
    dupe_factor: int
    short_seq_prob: float
    random_seed: int
    unit_bytes: int
    tokenizer: dict
    instances: int = 0
    shards: List[dict] = dataclasses.field(default_factory=list)
    inputs: List[dict] = dataclasses.field(default_factory=list)
    statistics: dict = dataclasses.field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    created_by: str = ""

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer["vocab_size"])

    @property
    def special_ids(self) -> dict:
        return dict(self.tokenizer.get("special_ids", {}))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "dataset meta") -> "DatasetMeta":
        if data.get("format") != FORMAT:
            raise MetaError(f"{source}: not an albert-tf pretraining dataset (format={data.get('format')!r})")
        if data.get("format_version", 0) > FORMAT_VERSION:
            raise MetaError(f"{source}: format_version {data['format_version']} is newer than this "
                            f"albert-tf reads ({FORMAT_VERSION}); upgrade albert-tf")
        known = {f.name: f for f in dataclasses.fields(cls)}
        required = [name for name, f in known.items()
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise MetaError(f"{source}: missing field(s) {missing}")
        meta = cls(**{k: v for k, v in data.items() if k in known})
        for name in ("max_seq_length", "max_predictions_per_seq", "ngram", "dupe_factor"):
            if not isinstance(getattr(meta, name), int) or getattr(meta, name) <= 0:
                raise MetaError(f"{source}: field {name!r} must be a positive integer, got {getattr(meta, name)!r}")
        if meta.masking not in ("static", "dynamic"):
            raise MetaError(f"{source}: field 'masking' must be 'static' or 'dynamic', got {meta.masking!r}")
        if meta.objective not in ("sop", "nsp"):
            raise MetaError(f"{source}: field 'objective' must be 'sop' or 'nsp', got {meta.objective!r}")
        if "vocab_size" not in meta.tokenizer:
            raise MetaError(f"{source}: field 'tokenizer' has no 'vocab_size'")
        return meta

    def settings_key(self) -> dict:
        """What must agree between datasets read together (everything but counts and provenance)."""
        skip = {"instances", "shards", "inputs", "statistics", "created_by", "random_seed", "unit_bytes",
                "dupe_factor"}
        return {k: v for k, v in self.to_dict().items() if k not in skip}


def write_meta(meta: DatasetMeta, directory) -> str:
    path = os.path.join(os.fspath(directory), META_NAME)
    with writing(path), atomic_files.replacing(path, encoding="utf-8") as f:
        json.dump(meta.to_dict(), f, indent=2, sort_keys=True)
        f.write("\n")
    return path


def check_against_model(meta: DatasetMeta, config, source: str = META_NAME,
                        max_predictions_per_seq: Optional[int] = None) -> List[str]:
    """Raise `MetaError` when the data cannot feed a model with `config`; return warnings."""
    problems, warnings = [], []
    if meta.max_seq_length > config.max_position_embeddings:
        problems.append(f"max_seq_length {meta.max_seq_length} > the model's max_position_embeddings "
                        f"{config.max_position_embeddings}")
    if meta.vocab_size > config.vocab_size:
        problems.append(f"tokenizer vocab_size {meta.vocab_size} > the model's vocab_size {config.vocab_size} "
                        "(records were made with a different vocabulary)")
    elif meta.vocab_size < config.vocab_size:
        warnings.append(f"{source}: tokenizer vocab_size {meta.vocab_size} < the model's vocab_size "
                        f"{config.vocab_size}; ids above {meta.vocab_size - 1} are never seen")
    if max_predictions_per_seq is not None and max_predictions_per_seq != meta.max_predictions_per_seq:
        problems.append(f"max_predictions_per_seq {meta.max_predictions_per_seq} != "
                        f"{max_predictions_per_seq} requested")
    if problems:
        raise MetaError(f"{source} does not match the model: " + "; ".join(problems))
    return warnings
