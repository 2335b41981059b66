"""Raw-text NER serving: strings in; entities with character offsets into the string as sent, out.

`serving_default` takes `text` [batch] and tokenizes it in the graph with byte offsets into the
original strings (`tokenization.graph_offsets`), so entity offsets index the text the client sent
(accents, case, double spaces and all), never a normalized copy. Raw text has no given words, so
pieces are grouped into words by one rule, the same on the host (`words_of_pieces`) and in the graph:
a piece starts a word when it is the first, when whitespace (or a dropped character) separates it from
the piece before, or when it or the piece before begins/ends with a punctuation or CJK character
(BERT's basic-tokenizer split, which is also how CoNLL text is cut and how Chinese characters are
words). A word's tag is its first piece's tag (as in training); entities are read from the word
tags as seqeval's strict IOB2 reads them (`B-X I-X*`), scored by the mean probability of their words.

The whole text is tagged, however long: its pieces are cut into the windows `run_ner.py` trains and
evaluates with (`max_seq_length - 2` pieces, `doc_stride` apart), all windows of the batch go through
the model together, and each piece takes its logits from the window where it has the most context
(`ner.features.piece_windows`, the rule of evaluation's `merge_windows`).

Outputs (float32 / int32 / string, padded per batch): `entity_type`, `entity_text`, `entity_start`,
`entity_end` (characters, end exclusive; -1 padding), `entity_score`, `num_entities`; per piece
`piece_tags` ("" padding), `piece_start`, `piece_end` and `logits` [batch, pieces, labels] (0 padding);
`num_pieces`.
"""

from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from albert_tf.export import saved_model, self_check, serving, text_inputs
from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS
from albert_tf.modeling import AlbertEncoder, AlbertTokenClassifier
from albert_tf.ner import features as ner_features
from albert_tf.ner import outputs as ner_outputs
from albert_tf.ner.reading import NerSentence
from albert_tf.tokenization import unicode_tables
from albert_tf.tokenization.layers import layer_for, pack_segments

KIND = "ner"
TEXT_INPUTS = ("text",)  # serving_default's inputs

# Texts for the reload check: entities next to punctuation, accents, double spaces, Chinese, an empty
# string, a text far longer than any window.
SAMPLE_TEXTS = (
    "John Smith flew from Paris to New York on Monday.",
    "",
    "Müller  and  Zoë met at the Café de Flore, in Paris (France).",
    "EU rejects German call to boycott British lamb .",
    " ".join(["The committee in Geneva met again"] * 80),
    "我们今天在北京见到了张三和李四。",
    "Apple Inc. hired 1,000 people in São Paulo.",
)


def _standalone_code_points():
    return frozenset(unicode_tables.bert_punctuation()) | frozenset(unicode_tables.cjk_characters())


# --- the host rule (also what the graph computes) -------------------------------------------

def words_of_pieces(text: str, offsets: Sequence) -> List[int]:
    """Indexes of the pieces that start a word, from the pieces' character spans in `text`.

    A piece with an empty span (SentencePiece's lone "▁" before a word it could not join) is where
    that word starts, as in training, where it is the first piece of the word its position lies in;
    the decision is then made on the piece after it. A trailing empty piece continues its word.
    """
    standalone = _standalone_code_points()

    def is_standalone(char):
        return bool(char) and ord(char) in standalone

    def empty(i):
        return offsets[i][1] <= offsets[i][0]

    def separates(j, k):  # whether piece j starts a word after piece k
        return (offsets[j][0] > offsets[k][1] or is_standalone(text[offsets[j][0]:offsets[j][1]][:1])
                or is_standalone(text[offsets[k][0]:offsets[k][1]][-1:]))
    starts = []
    for i in range(len(offsets)):
        if i == 0:
            start = True
        elif empty(i):
            start = i + 1 < len(offsets) and separates(i + 1, i - 1)
        else:
            start = not empty(i - 1) and separates(i, i - 1)
        if start:
            starts.append(i)
    return starts


def word_spans(offsets: Sequence, starts: Sequence[int]) -> List[tuple]:
    """(start, end) characters of each word: over its non-empty pieces (empty pieces hold no text)."""
    bounds = list(starts) + [len(offsets)]
    spans = []
    for a, b in zip(bounds, bounds[1:]):
        filled = [offsets[p] for p in range(a, b) if offsets[p][1] > offsets[p][0]]
        if filled:
            spans.append((min(s for s, _ in filled), max(e for _, e in filled)))
        else:
            spans.append((offsets[a][0], offsets[a][0]))
    return spans


def default_stride(max_seq_length: int) -> int:
    """The window stride of an export made without one: half a window."""
    return max(1, (max_seq_length - 2) // 2)


def tag_texts(model, tokenizer, labels: Sequence[str], texts: Sequence[str], max_seq_length: int,
              doc_stride: Optional[int] = None) -> List[Dict]:
    """What the export serves, computed on the host: per text, its entities and piece tags.

    The whole text is tagged: its pieces are cut into the windows `run_ner.py` evaluates with
    (`ner.features.piece_windows`: `doc_stride` pieces apart), every window goes through the model,
    and each piece takes its scores from the window where it has the most context.

    Returns [{"entities": [{"type", "text", "start", "end", "score"}], "piece_tags", "piece_spans",
    "num_pieces", "logits" (per piece)}].
    """
    stride = default_stride(max_seq_length) if doc_stride is None else doc_stride
    encodings = [tokenizer.encode_with_offsets(text) for text in texts]
    windows, owners = [], []  # windows: (start, length) of every text's windows, in text order
    for encoding in encodings:
        spans, owner = ner_features.piece_windows(len(encoding.ids), max_seq_length, stride)
        owners.append(np.asarray(owner, np.int64) + len(windows))
        windows += [(encoding.ids, start, length) for start, length in spans]
    width = max([length for _, _, length in windows] + [0]) + 2
    ids = np.full((len(windows), width), tokenizer.pad_id, np.int32)
    mask = np.zeros((len(windows), width), np.int32)
    for row, (pieces, start, length) in enumerate(windows):
        ids[row, :length + 2] = [tokenizer.cls_id] + list(pieces[start:start + length]) + [tokenizer.sep_id]
        mask[row, :length + 2] = 1
    logits = np.asarray(model({INPUT_WORD_IDS: ids, INPUT_MASK: mask, INPUT_TYPE_IDS: np.zeros_like(ids)},
                              training=False), np.float32) if windows else np.zeros((0, width, len(labels)))
    starts_of = np.asarray([start for _, start, _ in windows], np.int64)
    results = []
    for row, (text, encoding, owner) in enumerate(zip(texts, encodings, owners)):
        offsets = [tuple(span) for span in encoding.offsets]
        piece_logits = logits[owner, np.arange(len(offsets)) - starts_of[owner] + 1].reshape(len(offsets),
                                                                                             logits.shape[-1])
        scores = piece_logits.astype(np.float64)
        probs = np.exp(scores - scores.max(-1, keepdims=True)) if len(offsets) else scores
        probs = probs / probs.sum(-1, keepdims=True) if len(offsets) else probs
        best = probs.argmax(-1) if len(offsets) else np.zeros(0, int)
        starts = words_of_pieces(text, offsets)
        spans = word_spans(offsets, starts)
        sentence = NerSentence(guid=str(row), text=text, words=[text[s:e] for s, e in spans],
                               word_starts=[s for s, _ in spans], tags=None, source=f"text {row}")
        tags = [labels[int(best[p])] for p in starts]
        word_probs = [float(probs[p, best[p]]) for p in starts]
        results.append({"entities": ner_outputs.entities_in_text(sentence, tags, word_probs),
                        "piece_tags": [labels[int(b)] for b in best], "piece_spans": offsets,
                        "num_pieces": len(encoding.ids), "logits": piece_logits})
    return results


# --- the graph ---------------------------------------------------------------------------------

def _label_tables(labels):
    prefixes, types, names = [], [], []
    for label in labels:
        if label == "O":
            prefixes.append(0)
            types.append(-1)
            continue
        prefix, kind = label.split("-", 1)
        if kind not in names:
            names.append(kind)
        prefixes.append({"B": 1, "I": 2}[prefix])
        types.append(names.index(kind))
    return prefixes, types, names


class NerServer(serving._TextServer):  # pylint: disable=protected-access
    """`serving_default` (text) and `serving_ids` (ids -> logits, per-position tags) of a token classifier.

    Args:
        model: an `AlbertTokenClassifier` with a dynamic sequence length.
        tokenizer_layer, special_ids, max_seq_length: the training tokenizer and window length.
        labels: IOB2 tags in id order ("O" and B-/I- per type).
        doc_stride: pieces between the starts of two windows of a text longer than one window.
    """

    def __init__(self, model, tokenizer_layer, special_ids, max_seq_length, labels, doc_stride):
        super().__init__(model, tokenizer_layer, special_ids, max_seq_length)
        if doc_stride < 1:
            raise ValueError(f"doc_stride={doc_stride}: must be >= 1")
        self._doc_stride = int(doc_stride)
        self._labels = [str(label) for label in labels]
        self._prefixes, self._types, self._type_names = _label_tables(self._labels)
        self._standalone = unicode_tables.re2_class(sorted(_standalone_code_points()))
        self.serve_text = tf.function(self._serve_text, input_signature=[serving.strings_spec("text")])
        self.serve_ids = tf.function(self._serve_ids, input_signature=[serving.ids_signature()])

    @property
    def doc_stride(self) -> int:
        return self._doc_stride

    def _serve_ids(self, inputs):
        logits = tf.cast(self.model(inputs, training=False), tf.float32)
        tag_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"logits": logits, "tag_id": tag_id, "tags": tf.gather(tf.constant(self._labels), tag_id)}

    def _is_standalone(self, chars):
        return tf.strings.regex_full_match(chars, self._standalone)

    def _piece_logits(self, ids):
        """Every piece's logits from the window where it has the most context: `ner.features.piece_windows`
        in graph ops (windows `doc_stride` pieces apart; scores min(left, right context) + 0.01 x window
        length in float64 as on the host; ties to the earlier window). Returns flat [pieces, labels]."""
        window = self._max_seq_length - 2
        stride = min(self._doc_stride, window)  # doc_windows never steps past a whole window
        count = tf.cast(ids.row_lengths(), tf.int32)
        windows = 1 + tf.maximum(0, (count - window + stride - 1) // stride)  # per text
        window_text = tf.repeat(tf.range(tf.size(count)), windows)
        window_start = tf.ragged.range(windows).flat_values * stride
        window_length = tf.minimum(tf.gather(count, window_text) - window_start, window)
        first = tf.cast(tf.gather(ids.row_starts(), window_text), tf.int32) + window_start
        window_ids = tf.gather(ids.flat_values, tf.ragged.range(first, first + window_length))
        packed = pack_segments([window_ids], self._max_seq_length, self._special_ids["cls"],
                               self._special_ids["sep"], self._special_ids["pad"])
        inputs = text_inputs.trim_to_longest(text_inputs.as_model_inputs(packed))
        logits = self.serve_ids(inputs)["logits"]  # the traced id function: one model graph for both

        # Each piece k of a text lies in windows w with w * stride <= k < w * stride + length_w; at most
        # `candidates` of them, counted down from the last window starting at or before k.
        text = tf.cast(ids.value_rowids(), tf.int32)
        k = tf.range(tf.size(text)) - tf.cast(tf.gather(ids.row_starts(), text), tf.int32)
        candidates = -(-window // stride) + 1
        last = tf.minimum(k // stride, tf.gather(windows, text) - 1)
        w = last[:, tf.newaxis] - tf.range(candidates)[tf.newaxis, :]
        start = w * stride
        length = tf.minimum(tf.gather(count, text)[:, tf.newaxis] - start, window)
        inside = (w >= 0) & (k[:, tf.newaxis] < start + length)
        context = tf.minimum(k[:, tf.newaxis] - start, start + length - 1 - k[:, tf.newaxis])
        score = tf.cast(context, tf.float64) + tf.constant(0.01, tf.float64) * tf.cast(length, tf.float64)
        score = tf.where(inside, score, tf.constant(-np.inf, tf.float64))
        best = tf.equal(score, tf.reduce_max(score, axis=1, keepdims=True)) & inside
        # The earliest of equal windows: the largest candidate index among the best.
        pick = tf.reduce_max(tf.where(best, tf.range(candidates)[tf.newaxis, :], -1), axis=1)
        owner = last - pick
        offset = tf.cumsum(windows, exclusive=True)
        row = tf.gather(offset, text) + owner
        return tf.gather_nd(logits, tf.stack([row, k - owner * stride + 1], axis=1))

    def _serve_text(self, text):
        texts = text_inputs.sanitize_utf8(text)
        ids, begins, ends = self.tokenizer.tokenize_with_offsets(texts)
        num_pieces = tf.cast(ids.row_lengths(), tf.int32)
        flat_logits = self._piece_logits(ids)
        probs = tf.nn.softmax(flat_logits, axis=-1)
        tag = tf.argmax(probs, axis=-1, output_type=tf.int32)
        prob = tf.reduce_max(probs, axis=-1)

        # Pieces as character offsets into their text, and whether their first / last character stands
        # alone. Looked up in one flat array of the batch's characters: per-piece copies of the text
        # would cost pieces x text length for long texts.
        rows = ids.value_rowids()
        codepoints, char_bytes = tf.strings.unicode_decode_with_offsets(texts, "UTF-8")
        # One past the end: where an empty piece at the end of the last text points.
        padded = tf.concat([codepoints.flat_values, [0]], axis=0)
        byte_base = tf.cumsum(tf.cast(tf.strings.length(texts), tf.int64), exclusive=True)
        char_at = tf.cast(char_bytes.flat_values, tf.int64) + tf.gather(byte_base, char_bytes.value_rowids())
        char_base = tf.gather(char_bytes.row_starts(), rows)

        def char_index(byte_offsets):  # -> (index into the batch's characters, index into the piece's text)
            flat = tf.searchsorted(char_at, tf.cast(byte_offsets.flat_values, tf.int64) + tf.gather(byte_base, rows),
                                   side="left", out_type=tf.int64)
            return flat, tf.cast(flat - char_base, tf.int32)
        begin_at, begin = char_index(begins)
        end_at, end = char_index(ends)
        filled = end > begin

        def standalone_at(at):
            return self._is_standalone(tf.strings.unicode_encode(tf.gather(padded, at)[:, tf.newaxis], "UTF-8"))
        first_standalone = filled & standalone_at(begin_at)
        last_standalone = filled & standalone_at(tf.maximum(end_at - 1, 0))
        # The rule of `words_of_pieces`: separates[j] says whether piece j starts a word after piece j - 1.
        count = tf.size(begin, out_type=tf.int64)
        index = tf.range(count)
        row_start = tf.equal(index, tf.gather(ids.row_starts(), rows))
        row_last = tf.equal(index + 1, tf.gather(ids.row_limits(), rows))
        previous, following = tf.maximum(index - 1, 0), tf.minimum(index + 1, tf.maximum(count - 1, 0))
        empty = end <= begin
        separates = ((begin > tf.gather(end, previous)) | first_standalone | tf.gather(last_standalone, previous))
        # An empty piece decides with the piece after it against the piece before it.
        separates_after = ((tf.gather(begin, following) > tf.gather(end, previous))
                           | tf.gather(first_standalone, following) | tf.gather(last_standalone, previous))
        word_start = row_start | tf.where(empty, ~row_last & separates_after,
                                          ~tf.gather(empty, previous) & separates)

        # Words: tag and probability of the first piece, span over all pieces.
        word_of_piece = tf.cumsum(tf.cast(word_start, tf.int32)) - 1
        num_words = tf.reduce_sum(tf.cast(word_start, tf.int32))
        first_piece = tf.cast(tf.where(word_start)[:, 0], tf.int32)
        word_tag = tf.gather(tag, first_piece)
        word_prob = tf.gather(prob, first_piece)
        word_row = tf.gather(rows, first_piece)
        # Spans over the non-empty pieces (a word of empty pieces only: empty at its first piece).
        big = tf.int32.max
        word_begin = tf.math.unsorted_segment_min(tf.where(empty, big, begin), word_of_piece, num_words)
        word_end = tf.math.unsorted_segment_max(tf.where(empty, -1, end), word_of_piece, num_words)
        fallback = tf.gather(begin, first_piece)
        word_begin = tf.where(tf.equal(word_begin, big), fallback, word_begin)
        word_end = tf.where(word_end < 0, fallback, word_end)

        # Entities: runs that start at B-X and continue with I-X of the same type (strict IOB2).
        prefix = tf.gather(tf.constant(self._prefixes, tf.int32), word_tag)
        kind = tf.gather(tf.constant(self._types, tf.int32), word_tag)
        w = tf.range(num_words)
        first_of_row = tf.equal(w, 0) | tf.not_equal(word_row, tf.gather(word_row, tf.maximum(w - 1, 0)))
        continues = ~first_of_row & tf.equal(prefix, 2) & tf.equal(kind, tf.gather(kind, tf.maximum(w - 1, 0)))
        run_of_word = tf.cumsum(tf.cast(~continues, tf.int32)) - 1
        num_runs = tf.reduce_sum(tf.cast(~continues, tf.int32))
        run_first = tf.cast(tf.where(~continues)[:, 0], tf.int32)
        run_last = tf.math.unsorted_segment_max(w, run_of_word, num_runs)
        run_score = tf.math.unsorted_segment_mean(word_prob, run_of_word, num_runs)
        is_entity = tf.equal(tf.gather(prefix, run_first), 1)
        first, last = tf.boolean_mask(run_first, is_entity), tf.boolean_mask(run_last, is_entity)
        entity_row = tf.gather(word_row, first)
        entity_begin, entity_end = tf.gather(word_begin, first), tf.gather(word_end, last)
        entity_base = tf.gather(codepoints.row_starts(), entity_row)
        entity_chars = tf.ragged.range(entity_base + tf.cast(entity_begin, tf.int64),
                                       entity_base + tf.cast(entity_end, tf.int64))
        batch = tf.shape(texts, out_type=tf.int64)[0]

        def per_row(values, default):
            return tf.RaggedTensor.from_value_rowids(values, entity_row, nrows=batch).to_tensor(default)

        type_names = tf.constant(self._type_names or [""])
        pieces = ids.with_flat_values
        return {
            "entity_type": per_row(tf.gather(type_names, tf.gather(kind, first)), ""),
            "entity_text": per_row(tf.strings.unicode_encode(tf.gather(codepoints.flat_values, entity_chars), "UTF-8"),
                                   ""),
            "entity_start": per_row(entity_begin, -1),
            "entity_end": per_row(entity_end, -1),
            "entity_score": per_row(tf.boolean_mask(run_score, is_entity), 0.0),
            "num_entities": tf.cast(tf.math.bincount(tf.cast(entity_row, tf.int32), minlength=tf.cast(batch, tf.int32),
                                                     maxlength=tf.cast(batch, tf.int32)), tf.int32),
            "piece_tags": pieces(tf.gather(tf.constant(self._labels), tag)).to_tensor(""),
            "piece_start": pieces(begin).to_tensor(-1),
            "piece_end": pieces(end).to_tensor(-1),
            "num_pieces": num_pieces,
            "logits": pieces(flat_logits).to_tensor(0.0),
        }

    def signatures(self):
        return {"serving_default": self.serve_text.get_concrete_function(),
                "serving_ids": self.serve_ids.get_concrete_function()}

    def ids_only(self):
        return serving.IdsOnlyServer(self.serve_ids)


# --- export ------------------------------------------------------------------------------------

def serving_tagger(model: AlbertTokenClassifier) -> AlbertTokenClassifier:
    """A dynamic-length float32 copy (the training model may have static shapes or bf16)."""
    with saved_model._Float32Policy():  # pylint: disable=protected-access
        copy = AlbertTokenClassifier(AlbertEncoder(model.encoder.albert_config), model.num_labels,
                                     dropout_rate=model.dropout_rate)
    return saved_model._copy_weights(model, copy)  # pylint: disable=protected-access


def ner_server(tagger: AlbertTokenClassifier, tokenizer, *, labels: Sequence[str], max_seq_length: int,
               doc_stride: Optional[int] = None):
    """(the `NerServer` the export saves, its float32 model): also what `albert-predict` serves from a
    model directory, so both give the same records."""
    if tagger.num_labels != len(labels):
        raise ValueError(f"the tagger has {tagger.num_labels} outputs but {len(labels)} labels were given")
    stride = default_stride(max_seq_length) if doc_stride is None else int(doc_stride)
    model = serving_tagger(tagger)
    return NerServer(model, layer_for(tokenizer), saved_model.special_ids(tokenizer), max_seq_length, labels,
                     stride), model


def expected_outputs(results: List[Dict]) -> Dict[str, np.ndarray]:
    """`tag_texts` results as the padded arrays `serving_default` returns."""
    most = max([len(r["entities"]) for r in results] + [0])
    pieces = max([len(r["piece_tags"]) for r in results] + [0])

    def padded(rows, width, default, dtype):
        out = np.full((len(rows), width), default, dtype=dtype)
        for i, row in enumerate(rows):
            out[i, :len(row)] = row
        return out
    entities = [r["entities"] for r in results]
    return {
        "entity_type": padded([[e["type"] for e in row] for row in entities], most, "", object),
        "entity_text": padded([[e["text"] for e in row] for row in entities], most, "", object),
        "entity_start": padded([[e["start"] for e in row] for row in entities], most, -1, np.int32),
        "entity_end": padded([[e["end"] for e in row] for row in entities], most, -1, np.int32),
        "entity_score": padded([[e["score"] for e in row] for row in entities], most, 0.0, np.float32),
        "num_entities": np.asarray([len(row) for row in entities], np.int32),
        "piece_tags": padded([r["piece_tags"] for r in results], pieces, "", object),
        "piece_start": padded([[s for s, _ in r["piece_spans"]] for r in results], pieces, -1, np.int32),
        "piece_end": padded([[e for _, e in r["piece_spans"]] for r in results], pieces, -1, np.int32),
        "num_pieces": np.asarray([r["num_pieces"] for r in results], np.int32),
        "logits": padded_logits([r["logits"] for r in results]),
    }


def padded_logits(rows: List[np.ndarray]) -> np.ndarray:
    """Per-piece logits of each text, zero-padded to the longest: `[texts, pieces, labels]`."""
    labels = max([r.shape[-1] for r in rows] + [0])
    out = np.zeros((len(rows), max([len(r) for r in rows] + [0]), labels), np.float32)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def export_ner(tagger, tokenizer, export_dir: str, *, labels: Sequence[str], max_seq_length: int,
               doc_stride: Optional[int] = None, task_name: Optional[str] = "ner", check: bool = True,
               check_texts: Optional[Sequence[str]] = None, atol: float = 1e-5, ids_export: bool = True) -> Dict:
    """Writes a raw-text NER SavedModel; returns the export info.

    `doc_stride` is the model's training and evaluation stride (task.json's `doc_stride`; None: half a
    window): a text longer than one window is tagged over windows that far apart.

    The reload check runs `serving_default` in a fresh process (tensorflow + tensorflow_text only) on
    `check_texts` and the samples, and requires the host pipeline's entities exactly (types, texts,
    character offsets) and its scores and logits within `atol`. The ids-only twin (`ids/1`, core
    TensorFlow ops, `ids_export`) must equal `serving_ids` on the packed samples.
    """
    server, model = ner_server(tagger, tokenizer, labels=labels, max_seq_length=max_seq_length,
                               doc_stride=doc_stride)
    stride = server.doc_stride
    texts = list(check_texts or []) + list(SAMPLE_TEXTS)
    info = {"kind": KIND, "task": task_name, "labels": list(labels), "max_seq_length": int(max_seq_length),
            "doc_stride": stride,
            "signatures": {"serving_default": list(TEXT_INPUTS), "serving_ids": list(serving.ID_NAMES)}}
    if ids_export:
        info["ids_export"] = {"path": saved_model.IDS_EXPORT_DIR,
                              "signatures": {"serving_default": list(serving.ID_NAMES),
                                             "serving_ids": list(serving.ID_NAMES)}}

    def run_check(directory):
        results = tag_texts(model, tokenizer, list(labels), texts, max_seq_length, stride)
        expected = expected_outputs(results)
        requests = [{"signature": "serving_default", "inputs": {"text": texts}}]
        if ids_export:
            packed = tokenizer.pack_batch(texts, max_seq_length=max_seq_length)
            ids = [{"signature": "serving_ids", "inputs": {INPUT_WORD_IDS: packed.input_ids.tolist(),
                                                           INPUT_MASK: packed.input_mask.tolist(),
                                                           INPUT_TYPE_IDS: packed.segment_ids.tolist()}}]
            requests += ids + saved_model.ids_requests(ids)
        got, *got_ids = self_check.reload_outputs(directory, requests)
        worst = self_check.compare(expected, got, atol, "serving_default")
        if got_ids:  # the twin computes what serving_ids computes
            worst = max(worst, self_check.compare(got_ids[0], got_ids[1], atol,
                                                  f"{saved_model.IDS_EXPORT_DIR} serving_default"))
        for i in range(len(results)):
            for e in range(int(got["num_entities"][i])):  # offsets slice the text as sent
                start, end = int(got["entity_start"][i, e]), int(got["entity_end"][i, e])
                if texts[i][start:end] != str(got["entity_text"][i, e]):
                    raise self_check.ExportCheckError(f"serving_default: entity {e} of text {i} does not slice "
                                                      "its text")
        return worst

    info["max_abs_difference"] = saved_model._save_checked(  # pylint: disable=protected-access
        server, server.signatures(), export_dir,
        lambda d: saved_model._write_extras(d, tokenizer, model.encoder.albert_config, labels),  # pylint: disable=protected-access
        run_check if check else None,
        (lambda d: saved_model._write_extras(d, tokenizer, model.encoder.albert_config,  # pylint: disable=protected-access
                                             labels)) if ids_export else None, info)
    return info


def entity_record(outputs: Dict[str, np.ndarray], i: int) -> Dict:
    """Row `i` of `serving_default`'s outputs as a prediction record: entities and piece tags (of the
    whole text: nothing is cut)."""
    def text(value):
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)
    count = int(outputs["num_entities"][i])
    entities = [{"type": text(outputs["entity_type"][i, e]), "text": text(outputs["entity_text"][i, e]),
                 "start": int(outputs["entity_start"][i, e]), "end": int(outputs["entity_end"][i, e]),
                 "score": float(outputs["entity_score"][i, e])} for e in range(count)]
    pieces = int(outputs["num_pieces"][i])
    return {"entities": entities, "piece_tags": [text(t) for t in outputs["piece_tags"][i, :pieces]]}
