"""A pretrained ALBERT used directly: fill masks, score sentence order, embed texts.

    >>> model = PretrainedAlbert.load("albert_base")          # model directory or any checkpoint
    >>> model.fill_mask(["Hello I'm a [MASK] model."], top_k=5)
    >>> model.sentence_order(["It rained."], ["The street got wet."])
    >>> model.embed(["a sentence"], pooling="mean", normalize=True)

Weights come through `albert_tf.checkpoints` (TF1, TF-Hub, brightmart, HF, .keras), the config from
the json next to them and the tokenizer from `albert_tf.tokenization.assets`. Texts are sorted by
length and run in batches each padded only to its own longest row (as the serving export does);
results come back in input order. A head the checkpoint lacks is never used with random weights:
the call that needs it is refused.
"""

import copy
import dataclasses
from typing import List, Sequence

import numpy as np
import tensorflow as tf

from albert_tf import checkpoints
from albert_tf.model_inputs import INPUT_MASK, INPUT_NAMES, INPUT_TYPE_IDS, INPUT_WORD_IDS
from albert_tf.modeling.encoder import AlbertEncoder
from albert_tf.modeling.models import AlbertPretrainer
from albert_tf.tokenization import assets, base, packing

POOLINGS = ("pooled", "cls", "mean", "max")


class MissingHeadError(ValueError):
    """The checkpoint holds no weights for the head a call needs."""


@dataclasses.dataclass(frozen=True)
class MaskPrediction:
    """One candidate for one `[MASK]`: probability over the whole vocabulary, id, token, filled text."""

    score: float
    token_id: int
    token: str
    sequence: str

    def to_dict(self):
        return dataclasses.asdict(self)


def token_text(token: str) -> str:
    """The surface a vocabulary entry stands for ("▁model" -> "model", "##ing" -> "ing")."""
    if token.startswith("##"):
        return token[2:]
    return token.replace("\u2581", " ").strip()


def fill_nth_mask(text: str, n: int, filler: str) -> str:
    """`text` with its n-th literal `[MASK]` (0-based) replaced by `filler`."""
    parts = text.split(base.MASK_TOKEN)
    return base.MASK_TOKEN.join(parts[:n + 1]) + filler + base.MASK_TOKEN.join(parts[n + 1:])


def length_batches(lengths: Sequence[int], batch_size: int) -> List[np.ndarray]:
    """Row indices sorted by length (stable), cut into batches of `batch_size`."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def _stack_trimmed(rows: Sequence[packing.PackedInputs]):
    """Model inputs of `rows`, padded only to the longest real row among them."""
    width = max(sum(r.input_mask) for r in rows)
    stacked = packing.stack(rows)
    return {INPUT_WORD_IDS: stacked.input_ids[:, :width], INPUT_MASK: stacked.input_mask[:, :width],
            INPUT_TYPE_IDS: stacked.segment_ids[:, :width]}


class PretrainedAlbert:
    """A pretrained encoder with its MLM and SOP heads and its tokenizer.

    Args:
        pretrainer: an `AlbertPretrainer` holding the weights.
        tokenizer: the model's Python tokenizer (a copy of it with `mask_token_in_text` on is used).
        missing_heads: names of heads the checkpoint had no weights for ("mlm", "sop").
        max_seq_length: longest packed input; longer texts are truncated (longest first).
        batch_size: rows per model call.
    """

    def __init__(self, pretrainer, tokenizer, *, missing_heads=(), max_seq_length=512, batch_size=32,
                 source="the checkpoint"):
        self.pretrainer = pretrainer
        self.encoder = pretrainer.encoder
        self.tokenizer = copy.copy(tokenizer)  # the caller's tokenizer keeps its own setting
        self.tokenizer.mask_token_in_text = True
        self.missing_heads = frozenset(missing_heads)
        self.max_seq_length = int(max_seq_length)
        self.batch_size = int(batch_size)
        self.source = source
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        limit = self.encoder.albert_config.max_position_embeddings
        if not 2 < self.max_seq_length <= limit:
            raise ValueError(f"max_seq_length must be in 3..{limit} (config field 'max_position_embeddings'), "
                             f"got {max_seq_length}")
        # Any batch and length: one trace per function.
        ids = {name: tf.TensorSpec([None, None], tf.int32) for name in INPUT_NAMES}
        self._encode_fn = tf.function(self._encode_graph, input_signature=[ids])
        self._mlm_fn = tf.function(self._mlm_graph, input_signature=[ids, tf.TensorSpec([None, None], tf.int32)])
        self._sop_fn = tf.function(self._sop_graph, input_signature=[ids])

    @classmethod
    def load(cls, path, *, config_file=None, vocab_file=None, max_seq_length=None, batch_size=32):
        """One line from a model directory or any supported checkpoint file / TF1 prefix.

        Args:
            path: model directory, TF1 prefix, `.keras`, `model.safetensors`, `pytorch_model.bin`.
            config_file: the config json, when none sits next to the checkpoint.
            vocab_file: the `.model` / `vocab.txt`, when no tokenizer sits next to the checkpoint.
            max_seq_length: default: the config's `max_position_embeddings`, at most 512.
        """
        config = checkpoints.load_config_for(path, config_file)
        tokenizer = assets.tokenizer_for_model(vocab_file, path, checkpoint_flag="the checkpoint")
        if tokenizer.vocab_size != config.vocab_size:
            raise ValueError(f"the tokenizer has {tokenizer.vocab_size} ids but config field 'vocab_size' is "
                             f"{config.vocab_size} ({path})")
        encoder = AlbertEncoder(config)
        pretrainer = AlbertPretrainer(encoder)
        report = checkpoints.load_weights(pretrainer, path, verbose=False)
        missing = set()
        for name in report.newly_initialized:
            missing.add("sop" if name.startswith("cls/seq_relationship/") else "mlm")
        length = max_seq_length or min(512, config.max_position_embeddings)
        return cls(pretrainer, tokenizer, missing_heads=missing, max_seq_length=length, batch_size=batch_size,
                   source=report.source)

    # === Graphs ===
    def _encode_graph(self, inputs):
        return self.encoder(inputs, training=False)

    def _mlm_graph(self, inputs, positions):
        sequence = self.encoder(inputs, training=False)["sequence_output"]
        logits = self.pretrainer.mlm_head(sequence, positions)
        return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)

    def _sop_graph(self, inputs):
        pooled = self.encoder(inputs, training=False)["pooled_output"]
        return tf.nn.softmax(tf.cast(self.pretrainer.sop_head(pooled, training=False), tf.float32), axis=-1)

    def _require_head(self, head, call):
        if head in self.missing_heads:
            what = {"mlm": "masked-LM head (cls/predictions)", "sop": "sentence-order head (cls/seq_relationship)"}
            raise MissingHeadError(f"{call}: {self.source} has no {what[head]} weights; use a pretraining "
                                   "checkpoint that keeps its heads")

    def _pack(self, texts_a, texts_b=None):
        ids_a = self.tokenizer.encode_batch(list(texts_a))
        ids_b = [None] * len(ids_a) if texts_b is None else self.tokenizer.encode_batch(list(texts_b))
        if len(ids_b) != len(ids_a):
            raise ValueError(f"got {len(ids_a)} first texts but {len(ids_b)} second texts")
        t = self.tokenizer
        return [packing.pack(a, b, max_seq_length=self.max_seq_length, cls_id=t.cls_id, sep_id=t.sep_id,
                             pad_id=t.pad_id) for a, b in zip(ids_a, ids_b)]

    # === Fill-mask ===
    def fill_mask(self, texts: Sequence[str], top_k: int = 5) -> List[List[List[MaskPrediction]]]:
        """For every text, for every `[MASK]` in it (left to right), the `top_k` best tokens.

        A score is the softmax over the whole vocabulary at that position. `sequence` is the text with
        that one mask replaced by the token's text (other masks stay). A text without `[MASK]`, or whose
        masks are cut off by `max_seq_length`, is refused naming its index.
        """
        self._require_head("mlm", "fill_mask")
        texts = _as_texts(texts)
        if not 1 <= top_k <= self.tokenizer.vocab_size:
            raise ValueError(f"top_k must be in 1..{self.tokenizer.vocab_size}, got {top_k}")
        rows = self._pack(texts)
        mask_id = self.tokenizer.mask_id
        positions = []
        for i, (text, row) in enumerate(zip(texts, rows)):
            found = [p for p, token in enumerate(row.input_ids) if token == mask_id and row.input_mask[p]]
            wanted = text.count(base.MASK_TOKEN)
            if not wanted:
                raise ValueError(f"text {i}: no {base.MASK_TOKEN} in {text[:80]!r}")
            if len(found) != wanted:
                raise ValueError(f"text {i}: {wanted - len(found)} of its {wanted} {base.MASK_TOKEN} fall past "
                                 f"max_seq_length={self.max_seq_length}")
            positions.append(found)
        results = [None] * len(texts)
        for batch in length_batches([sum(r.input_mask) for r in rows], self.batch_size):
            inputs = _stack_trimmed([rows[i] for i in batch])
            width = max(len(positions[i]) for i in batch)
            pos = np.zeros((len(batch), width), np.int32)
            for j, i in enumerate(batch):
                pos[j, :len(positions[i])] = positions[i]
            probs = self._mlm_fn(inputs, tf.constant(pos))
            top = tf.math.top_k(probs, k=top_k)
            scores, ids = top.values.numpy(), top.indices.numpy()
            for j, i in enumerate(batch):
                results[i] = [[self._prediction(texts[i], m, float(s), int(t))
                               for s, t in zip(scores[j, m], ids[j, m])] for m in range(len(positions[i]))]
        return results

    def _prediction(self, text, n, score, token_id):
        token = self.tokenizer.convert_ids_to_tokens([token_id])[0]
        return MaskPrediction(score=score, token_id=token_id, token=token,
                              sequence=fill_nth_mask(text, n, token_text(token)))

    # === Sentence order ===
    def sentence_order(self, texts_a: Sequence[str], texts_b: Sequence[str]) -> np.ndarray:
        """Probability, per pair, that `a` then `b` is the original order (the pretrained SOP head)."""
        self._require_head("sop", "sentence_order")
        rows = self._pack(_as_texts(texts_a), _as_texts(texts_b, "texts_b"))
        out = np.zeros(len(rows), np.float32)
        for batch in length_batches([sum(r.input_mask) for r in rows], self.batch_size):
            out[batch] = self._sop_fn(_stack_trimmed([rows[i] for i in batch])).numpy()[:, 0]  # label 0: in order
        return out

    # === Embeddings ===
    def embed(self, texts: Sequence[str], pooling: str = "pooled", layer: int = -1,
              normalize: bool = False) -> np.ndarray:
        """float32 `[len(texts), hidden_size]` text vectors.

        Args:
            pooling: "pooled" (the pretrained pooler: dense + tanh on [CLS], last layer only), "cls"
                (the [CLS] vector), "mean" / "max" (over the real tokens, [CLS] and [SEP] included).
            layer: which transformer layer, Python-indexed (-1: the last).
            normalize: L2-normalize each vector (cosine similarity becomes a dot product).
        """
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        layers = self.encoder.albert_config.num_hidden_layers
        if not -layers <= layer < layers:
            raise ValueError(f"layer must be in {-layers}..{layers - 1} (the model has {layers} layers), got {layer}")
        if pooling == "pooled" and layer % layers != layers - 1:
            raise ValueError(f"pooling='pooled' reads the last layer only; use 'cls', 'mean' or 'max' for "
                             f"layer {layer}")
        rows = self._pack(_as_texts(texts))
        out = np.zeros((len(rows), self.encoder.albert_config.hidden_size), np.float32)
        for batch in length_batches([sum(r.input_mask) for r in rows], self.batch_size):
            inputs = _stack_trimmed([rows[i] for i in batch])
            out[batch] = pool(self._encode_fn(inputs), inputs[INPUT_MASK], pooling, layer).numpy()
        if normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def pool(outputs, input_mask, pooling, layer=-1):
    """Per-row vectors from the encoder's outputs; padding never counts."""
    if pooling == "pooled":
        return tf.cast(outputs["pooled_output"], tf.float32)
    hidden = tf.cast(outputs["encoder_outputs"][layer], tf.float32)
    if pooling == "cls":
        return hidden[:, 0]
    mask = tf.cast(input_mask, tf.float32)[:, :, None]
    if pooling == "mean":
        return tf.reduce_sum(hidden * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
    return tf.reduce_max(tf.where(mask > 0, hidden, tf.float32.min), axis=1)


def _as_texts(texts, name="texts") -> List[str]:
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, not one string (wrap it in a list)")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{name}[{bad[0]}] is {type(texts[bad[0]]).__name__}, expected str")
    return texts


def load(path, **kwargs) -> PretrainedAlbert:
    """`PretrainedAlbert.load(path, **kwargs)`."""
    return PretrainedAlbert.load(path, **kwargs)


__all__ = ["MaskPrediction", "MissingHeadError", "POOLINGS", "PretrainedAlbert", "load", "pool"]
