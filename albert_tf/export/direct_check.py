"""The fresh-process check of the direct-use signatures: the reloaded export against `albert_tf.inference`
run in memory on the same weights and sample texts."""

import numpy as np

from albert_tf.export import self_check
from albert_tf.inference import PretrainedAlbert

# A mask alone, several per text, next to punctuation, in Chinese. (A mask cut off by the length is not
# sampled: the Python API refuses it, the signature leaves it out of num_masks.)
MASKED_SAMPLES = ("The film is a [MASK] from start to finish.", "[MASK]", "[MASK], [MASK] and ([MASK]).",
                  "今天天气[MASK]好，我们去[MASK]园散步吧。",
                  "Café owners raised 1,000,000 [MASK] in 2019")
EMBED_SAMPLES = ("The film is a delight from start to finish.", "", "今天天气很好。", "How are you?")
ORDER_SAMPLES = (("It rained all night.", "The streets were wet."), ("", "Only the second."),
                 ("今天天气很好。", "我们去公园散步吧。"))


def requests(direct):
    """The reload requests for the signatures `direct` (a `DirectUseServer`) exports, in a fixed order."""
    out = [{"signature": "embed", "inputs": {"text": list(EMBED_SAMPLES)}}]
    if direct.with_mlm:
        out.append({"signature": "fill_mask", "inputs": {"text": list(MASKED_SAMPLES)}})
    if direct.with_sop:
        out.append({"signature": "sentence_order", "inputs": {"text_a": [a for a, _ in ORDER_SAMPLES],
                                                              "text_b": [b for _, b in ORDER_SAMPLES]}})
    return out


def compare(direct, pretrainer, tokenizer, max_seq_length, got, atol):
    """Max difference of the reloaded outputs `got` (in `requests` order) from the Python API."""
    albert = PretrainedAlbert(pretrainer, tokenizer, max_seq_length=max_seq_length, batch_size=len(MASKED_SAMPLES))
    got = list(got)
    expected = {name: albert.embed(list(EMBED_SAMPLES), pooling=name) for name in ("pooled", "cls", "mean", "max")}
    worst = self_check.compare(expected, got.pop(0), atol, "encoder embed")
    if direct.with_mlm:
        results = albert.fill_mask(list(MASKED_SAMPLES), top_k=direct.top_k)
        width = max(len(r) for r in results)
        ids = np.zeros((len(results), width, direct.top_k), np.int32)
        scores = np.zeros(ids.shape, np.float32)
        for i, per_text in enumerate(results):
            for m, candidates in enumerate(per_text):
                ids[i, m] = [c.token_id for c in candidates]
                scores[i, m] = [c.score for c in candidates]
        actual = got.pop(0)
        for i, per_text in enumerate(results):  # padding rows past a text's masks carry no meaning
            actual["top_ids"][i, len(per_text):] = 0
            actual["top_scores"][i, len(per_text):] = 0
        worst = max(worst, self_check.compare({"num_masks": np.array([len(r) for r in results], np.int32),
                                               "top_ids": ids, "top_scores": scores}, actual, atol,
                                              "encoder fill_mask"))
    if direct.with_sop:
        expected = {"in_order": albert.sentence_order([a for a, _ in ORDER_SAMPLES], [b for _, b in ORDER_SAMPLES])}
        worst = max(worst, self_check.compare(expected, got.pop(0), atol, "encoder sentence_order"))
    return worst
