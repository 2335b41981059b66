"""The one table between this project's Keras variables and the TF1 checkpoint names.

Every foreign layout (TF1 Google, TF-Hub, brightmart, Hugging Face) is translated to or
from these canonical TF1 names, so each converter only knows its own renaming rule.
"""

from __future__ import annotations

import dataclasses
import re
from typing import List

from albert_tf.modeling.encoder import AlbertEncoder
from albert_tf.modeling.models import AlbertClassifier, AlbertPretrainer, AlbertTokenClassifier
from albert_tf.modeling.squad import SquadAnswerabilityHead, SquadSpanHead

GOOGLE = "google"
BRIGHTMART = "brightmart"
POOLER = ("bert/pooler/dense/kernel", "bert/pooler/dense/bias")


@dataclasses.dataclass(frozen=True)
class Slot:
    """A model variable under its canonical TF1 name.

    `transposed`: the TF1 array is the transpose of the Keras variable (the original stores
    `output_weights` as [num_classes, H] and multiplies with `transpose_b=True`).
    `is_head`: belongs to a task head; absent from a pretrained checkpoint means "newly
    initialized" rather than a broken load.
    """

    name: str
    variable: object
    transposed: bool = False
    is_head: bool = False


def _dense(prefix, layer):
    return [Slot(f"{prefix}/kernel", layer.kernel), Slot(f"{prefix}/bias", layer.bias)]


def _layer_norm(prefix, layer):
    return [Slot(f"{prefix}/gamma", layer.gamma), Slot(f"{prefix}/beta", layer.beta)]


def _google_encoder_slots(encoder: AlbertEncoder) -> List[Slot]:
    emb = encoder.embeddings
    slots = [
        Slot("bert/embeddings/word_embeddings", emb.word_embeddings),
        Slot("bert/embeddings/token_type_embeddings", emb.token_type_embeddings),
        Slot("bert/embeddings/position_embeddings", emb.position_embeddings),
        *_layer_norm("bert/embeddings/LayerNorm", emb.layer_norm),
    ]
    if emb.embedding_hidden_mapping_in is not None:
        slots += _dense("bert/encoder/embedding_hidden_mapping_in", emb.embedding_hidden_mapping_in)
    for g, group in enumerate(encoder.groups):
        for k, block in enumerate(group):
            p = f"bert/encoder/transformer/group_{g}/inner_group_{k}"
            slots += [
                *_dense(f"{p}/attention_1/self/query", block.attention.query),
                *_dense(f"{p}/attention_1/self/key", block.attention.key),
                *_dense(f"{p}/attention_1/self/value", block.attention.value),
                *_dense(f"{p}/attention_1/output/dense", block.attention.output_dense),
                *_layer_norm(f"{p}/LayerNorm", block.attention_layer_norm),
                *_dense(f"{p}/ffn_1/intermediate/dense", block.ffn),
                *_dense(f"{p}/ffn_1/intermediate/output/dense", block.ffn_output),
                *_layer_norm(f"{p}/LayerNorm_1", block.output_layer_norm),
            ]
    slots += _dense("bert/pooler/dense", encoder.pooler)
    return slots


def _brightmart_encoder_slots(encoder: AlbertEncoder) -> List[Slot]:
    config = encoder.albert_config
    if config.num_hidden_groups != 1 or config.inner_group_num != 1:
        raise ValueError("the brightmart layout has a single shared layer: config fields 'num_hidden_groups' and "
                         f"'inner_group_num' must be 1 (got {config.num_hidden_groups}, {config.inner_group_num})")
    emb = encoder.embeddings
    block = encoder.groups[0][0]
    p = "bert/encoder/layer_shared"
    return [
        Slot("bert/embeddings/word_embeddings", emb.word_embeddings),
        Slot("bert/embeddings/word_embeddings_2", emb.word_embeddings_2),
        Slot("bert/embeddings/token_type_embeddings", emb.token_type_embeddings),
        Slot("bert/embeddings/position_embeddings", emb.position_embeddings),
        *_layer_norm("bert/embeddings/LayerNorm", emb.layer_norm),
        *_dense(f"{p}/attention/self/query", block.attention.query),
        *_dense(f"{p}/attention/self/key", block.attention.key),
        *_dense(f"{p}/attention/self/value", block.attention.value),
        *_dense(f"{p}/attention/output/dense", block.attention.output_dense),
        *_layer_norm(f"{p}/attention/output/LayerNorm", block.attention_layer_norm),
        *_dense(f"{p}/intermediate/dense", block.ffn),
        *_dense(f"{p}/output/dense", block.ffn_output),
        *_layer_norm(f"{p}/output/LayerNorm", block.output_layer_norm),
        *_dense("bert/pooler/dense", encoder.pooler),
    ]


def layout_of(encoder: AlbertEncoder) -> str:
    return BRIGHTMART if encoder.albert_config.embedding_layout == "project_first" else GOOGLE


def encoder_slots(encoder: AlbertEncoder) -> List[Slot]:
    if layout_of(encoder) == BRIGHTMART:
        return _brightmart_encoder_slots(encoder)
    return _google_encoder_slots(encoder)


def _head(slots):
    return [dataclasses.replace(s, is_head=True) for s in slots]


def _squad_head_slots(head) -> List[Slot]:
    """The SQuAD heads under the names of the original code.

    Span and CLS-null heads: BERT/ALBERT v1 `cls/squad/output_weights` [2, H] (used transposed) and
    `cls/squad/output_bias`. XLNet-style v2 head: ALBERT's `squad_utils.create_v2_model` scopes.
    """
    if isinstance(head, SquadSpanHead):
        return _head([Slot("cls/squad/output_weights", head.dense.kernel, transposed=True),
                      Slot("cls/squad/output_bias", head.dense.bias)])
    if isinstance(head, SquadAnswerabilityHead):
        return _head([*_dense("start_logits/dense", head.start_dense),
                      *_dense("end_logits/dense_0", head.end_dense_0),
                      *_layer_norm("end_logits/LayerNorm", head.end_layer_norm),
                      *_dense("end_logits/dense_1", head.end_dense_1),
                      *_dense("answer_class/dense_0", head.answer_dense_0),
                      Slot("answer_class/dense_1/kernel", head.answer_dense_1.kernel)])
    raise TypeError(f"no TF1 names for the SQuAD head {type(head).__name__}")


def _unwrap(model):
    """A multiple-choice scorer holds its weights in the 1-output classifier it applies per choice
    (the original's RACE head is the classifier's `output_weights` [1, H])."""
    inner = getattr(model, "classifier", None)
    return inner if isinstance(inner, AlbertClassifier) else model


def model_slots(model) -> List[Slot]:
    """Canonical TF1 names of every variable of an encoder or task model, built if needed."""
    model = _unwrap(model)
    encoder = model if isinstance(model, AlbertEncoder) else getattr(model, "encoder", None)
    if not isinstance(encoder, AlbertEncoder):
        raise TypeError(f"expected an AlbertEncoder or a model with an `.encoder`, got {type(model).__name__}")
    if not model.built or not encoder.embeddings.built:
        raise ValueError("build the model (call it once) before mapping its variables")
    slots = encoder_slots(encoder)
    if isinstance(model, AlbertPretrainer):
        mlm = model.mlm_head
        slots += _head([*_dense("cls/predictions/transform/dense", mlm.transform),
                        *_layer_norm("cls/predictions/transform/LayerNorm", mlm.layer_norm),
                        Slot("cls/predictions/output_bias", mlm.output_bias)])
        sop = model.sop_head.dense
        slots += _head([Slot("cls/seq_relationship/output_weights", sop.kernel, transposed=True),
                        Slot("cls/seq_relationship/output_bias", sop.bias)])
    elif isinstance(model, AlbertClassifier):
        dense = model.head.dense
        slots += _head([Slot("output_weights", dense.kernel, transposed=True), Slot("output_bias", dense.bias)])
    elif isinstance(model, AlbertTokenClassifier):
        # The tagger never reads the pooler and Hugging Face's AlbertForTokenClassification has none:
        # its absence is a newly initialized (unused) part, not a broken load.
        slots = [dataclasses.replace(s, is_head=True) if s.name.startswith("bert/pooler/") else s for s in slots]
        slots += _head(token_classification_slots(model))
    elif isinstance(getattr(model, "head", None), (SquadSpanHead, SquadAnswerabilityHead)):
        slots += _squad_head_slots(model.head)
    return slots


TOKEN_CLASSIFICATION_PREFIX = "cls/token_classification"


def token_classification_slots(model) -> List[Slot]:
    """The tagging head, stored like the original classifier head: `output_weights` [num_labels, H]."""
    dense = model.classifier
    return [Slot(f"{TOKEN_CLASSIFICATION_PREFIX}/output_weights", dense.kernel, transposed=True),
            Slot(f"{TOKEN_CLASSIFICATION_PREFIX}/output_bias", dense.bias)]


# --- which config field a mismatching variable points at -------------------------------

_FIELD_HINTS = [
    (r"word_embeddings_2$", ("embedding_size", "hidden_size")),
    (r"word_embeddings$", ("vocab_size", "embedding_size")),
    (r"position_embeddings$", ("max_position_embeddings", None)),
    (r"token_type_embeddings$", ("type_vocab_size", None)),
    (r"embeddings/LayerNorm", (None,)),
    (r"embedding_hidden_mapping_in/kernel$", ("embedding_size", "hidden_size")),
    # The attention output projection is H→H; checked before the FFN output rule below, whose
    # pattern its name also matches.
    (r"attention(_1)?/output/dense/kernel$", ("hidden_size", "hidden_size")),
    (r"(intermediate/dense|ffn_1/intermediate/dense)/kernel$", ("hidden_size", "intermediate_size")),
    (r"(output/dense|intermediate/output/dense)/kernel$", ("intermediate_size", "hidden_size")),
    (r"intermediate/dense/bias$", ("intermediate_size",)),
    (r"cls/predictions/output_bias$", ("vocab_size",)),
    (r"cls/predictions/transform/dense/kernel$", ("hidden_size", "embedding_size")),
    (r"cls/predictions/transform/", ("embedding_size",)),
    (r"^output_(weights|bias)$", ("num_classes (task label count)", "hidden_size")),
    (r"^cls/token_classification/output_(weights|bias)$", ("num_labels (tag count)", "hidden_size")),
]


def blame_field(name: str, checkpoint_shape, model_shape) -> str:
    """The config field most likely responsible for a shape mismatch of `name`."""
    fields = None
    for pattern, candidates in _FIELD_HINTS:
        if re.search(pattern, name):
            fields = candidates
            break
    if fields is None:
        fields = ("hidden_size", "hidden_size")
    for axis, (have, want) in enumerate(zip(checkpoint_shape, model_shape)):
        if have != want:
            field = fields[min(axis, len(fields) - 1)]
            if field is None:
                # LayerNorm over the embedding sum: its width is E or H depending on the layout.
                field = "embedding_layout/embedding_size"
            return field
    if len(checkpoint_shape) != len(model_shape):
        return "checkpoint layout (rank differs)"
    return "hidden_size"
