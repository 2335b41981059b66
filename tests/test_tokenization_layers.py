"""In-graph twins: same ids as the Python tokenizers, in tf.data, after config and SavedModel."""

import random
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

import tokenization_testlib as testlib

from albert_tf.tokenization import (SentencePieceTokenizer, WordPieceTokenizer,  # noqa: E402
                                    graph_text, layers, packing, preprocess_text)
from albert_tf.tokenization import io as tok_io  # noqa: E402

# A deliberately nasty sample: every edge case, the synthetic corpus, and random code points.
_rng = random.Random(7)
_RANDOM = ["".join(chr(_rng.choice([_rng.randint(0x20, 0x7E), _rng.randint(0xA0, 0x2FFF),
                                    _rng.randint(0x3000, 0x9FFF), _rng.randint(0x1F300, 0x1FAFF)]))
                   for _ in range(_rng.randint(0, 40))) for _ in range(200)]
TEXTS = testlib.EDGE_CASES + testlib.corpus_lines(150, seed=5) + _RANDOM


@pytest.fixture(scope="module")
def spm_tok(spm_model_file):
    return SentencePieceTokenizer(spm_model_file)


@pytest.fixture(scope="module")
def wp_tok(wordpiece_vocab_file):
    return WordPieceTokenizer(wordpiece_vocab_file)


def graph_ids(layer, texts):
    return layer(tf.constant(texts)).to_list()


def test_lowercase_matches_python_on_every_cased_char():
    chars = [chr(cp) for cp in range(1, 0x20000)
             if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp)) in ("Lu", "Lt", "Ll")]
    got = [s.decode("utf-8") for s in graph_text.python_lower(tf.constant(chars)).numpy()]
    assert got == [c.lower() for c in chars]
    sigma = ["ΟΔΟΣ ΣΑΣ.", "a\x00B\x01C\x01\x02", "Σ"]
    assert [s.decode() for s in graph_text.python_lower(tf.constant(sigma)).numpy()] == \
        [s.lower() for s in sigma]


@pytest.mark.parametrize("options", [{}, {"do_lower_case": False}, {"keep_accents": True},
                                     {"replace_quotes": True}, {"remove_space": False}])
def test_albert_preprocess_in_graph(options):
    got = graph_text.albert_preprocess(tf.constant(TEXTS), **options).numpy()
    assert [s.decode("utf-8") for s in got] == [preprocess_text(t, **options) for t in TEXTS]


@pytest.mark.parametrize("options", [{}, {"do_lower_case": False}, {"split_digit_comma": False}])
def test_sentencepiece_layer_matches_python(spm_tok, options):
    tok = SentencePieceTokenizer(model_proto=spm_tok.model_proto, **options)
    assert graph_ids(layers.layer_for(tok), TEXTS) == tok.encode_batch(TEXTS)


@pytest.mark.parametrize("lower", [True, False])
def test_wordpiece_layer_matches_python(wp_tok, lower):
    tok = WordPieceTokenizer(vocab=wp_tok.vocab, do_lower_case=lower)
    texts = TEXTS + ["x" * 201, "é" * 150, "é" * 201, "xx" * 100]
    assert graph_ids(layers.layer_for(tok), texts) == tok.encode_batch(texts)


@pytest.mark.realdata
def test_real_corpora_sample():
    en = SentencePieceTokenizer(testlib.realdata_path("assets/albert_en_spm/30k-clean.model"))
    zh = WordPieceTokenizer(testlib.realdata_path("assets/albert_zh/vocab.txt"))
    sst = [line.split("\t")[0] for line in
           tok_io.read_lines(testlib.realdata_path("glue/SST-2/dev.tsv"))[1:301]]
    lcqmc = [t for line in tok_io.read_lines(testlib.realdata_path("lcqmc/dev.txt"))[:300]
             for t in line.split("\t")[:2]]
    assert graph_ids(layers.layer_for(en), sst + TEXTS) == en.encode_batch(sst + TEXTS)
    assert graph_ids(layers.layer_for(zh), lcqmc + TEXTS) == zh.encode_batch(lcqmc + TEXTS)


def test_scalar_and_2d_inputs(spm_tok):
    layer = layers.layer_for(spm_tok)
    text = "the quick brown fox 1,000,"
    assert layer(tf.constant(text)).numpy().tolist() == spm_tok.encode(text)
    grid = layer(tf.constant([[text, ""], ["fox", text]]))
    assert grid.to_list() == [[spm_tok.encode(text), []], [spm_tok.encode("fox"), spm_tok.encode(text)]]


def test_truncation_matches_reference_loop():
    rng = random.Random(0)
    for _ in range(2000):
        la, lb, budget = rng.randint(0, 30), rng.randint(0, 30), rng.randint(0, 40)
        a, b = list(range(la)), list(range(100, 100 + lb))
        ra, rb = list(a), list(b)
        while len(ra) + len(rb) > budget:  # BERT's _truncate_seq_pair
            (ra if len(ra) > len(rb) else rb).pop()
        assert packing.truncate_longest_first(a, b, budget) == (ra, rb)


def test_pack_layer_matches_python(spm_tok):
    tok_layer = layers.layer_for(spm_tok)
    texts_a = testlib.corpus_lines(40, seed=8) + ["", "a"]
    texts_b = testlib.corpus_lines(42, seed=9)[::-1]
    for max_len in (5, 16, 64):
        packer = layers.packer_for(spm_tok, max_len)
        got = packer([tok_layer(tf.constant(texts_a)), tok_layer(tf.constant(texts_b))])
        want = spm_tok.pack_batch(texts_a, texts_b, max_seq_length=max_len)
        for key in ("input_ids", "input_mask", "segment_ids"):
            np.testing.assert_array_equal(got[key].numpy(), getattr(want, key))
        single = packer(tok_layer(tf.constant(texts_a)))
        want = spm_tok.pack_batch(texts_a, max_seq_length=max_len)
        np.testing.assert_array_equal(single["input_ids"].numpy(), want.input_ids)
        np.testing.assert_array_equal(single["segment_ids"].numpy(), want.segment_ids)


def test_tf_data_map(spm_tok, wp_tok):
    texts = testlib.corpus_lines(20, seed=10)
    for tok in (spm_tok, wp_tok):
        layer, packer = layers.layer_for(tok), layers.packer_for(tok, 32)
        ds = tf.data.Dataset.from_tensor_slices((texts, texts[::-1]))
        ds = ds.map(lambda a, b: packer([layer(a), layer(b)])).batch(4)
        got = np.concatenate([x["input_ids"].numpy() for x in ds])
        np.testing.assert_array_equal(
            got, tok.pack_batch(texts, texts[::-1], max_seq_length=32).input_ids)


def test_config_roundtrip(spm_tok, wp_tok):
    for tok in (spm_tok, wp_tok):
        layer = layers.layer_for(tok)
        clone = layer.__class__.from_config(layer.get_config())
        assert graph_ids(clone, TEXTS[:30]) == tok.encode_batch(TEXTS[:30])
    packer = layers.packer_for(spm_tok, 16)
    assert layers.PackInputs.from_config(packer.get_config()).get_config() == packer.get_config()


def test_saved_model_export(spm_tok, tmp_path):
    class Serving(tf.Module):
        def __init__(self, tok):
            super().__init__()
            self.tokenizer = layers.layer_for(tok)
            self.packer = layers.packer_for(tok, 24)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
        def preprocess(self, a, b):
            return self.packer([self.tokenizer(a), self.tokenizer(b)])

    tf.saved_model.save(Serving(spm_tok), str(tmp_path / "sm"))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    texts = testlib.corpus_lines(10, seed=11)
    got = loaded.preprocess(tf.constant(texts), tf.constant(texts[::-1]))
    np.testing.assert_array_equal(
        got["input_ids"].numpy(),
        spm_tok.pack_batch(texts, texts[::-1], max_seq_length=24).input_ids)


MASKED_TEXTS = ["Hello I'm a [MASK] model.", "[MASK]", "[MASK][MASK]", "", "a[MASK]b", "([MASK]), [MASK]!",
                "1,000,[MASK] 2,000,", "  [MASK]  spaced  [MASK]  ", "中[MASK]国人", "我爱[MASK][MASK]。",
                "[mask] stays text", "[MASK", "ALBERT[MASK]模型", "\u00e9t\u00e9 [MASK]\u3000x"]


def _with_masks(tok):
    tok.mask_token_in_text = True
    return tok


@pytest.mark.parametrize("kind", ["sentencepiece", "wordpiece"])
def test_mask_token_in_text_is_the_mask_id_in_python_and_in_graph(spm_tok, wp_tok, kind):
    plain = spm_tok if kind == "sentencepiece" else wp_tok
    cls = type(plain)
    masked = (cls(model_proto=plain.model_proto, mask_token_in_text=True) if kind == "sentencepiece"
              else cls(vocab=plain.vocab, mask_token_in_text=True))
    ids = masked.encode_batch(MASKED_TEXTS)
    expected_masks = [t.count("[MASK]") for t in MASKED_TEXTS]
    assert [row.count(masked.mask_id) for row in ids] == expected_masks
    # Between the masks: each piece tokenized as if it stood alone.
    for text, row in zip(MASKED_TEXTS, ids):
        expected = []
        for k, part in enumerate(text.split("[MASK]")):
            expected += ([masked.mask_id] if k else []) + plain.encode(part)
        assert row == expected, text
        assert masked.convert_tokens_to_ids(masked.tokenize(text)) == row or kind == "sentencepiece", text
        assert masked.tokenize(text).count("[MASK]") == text.count("[MASK]")
    assert graph_ids(layers.layer_for(masked), MASKED_TEXTS) == ids
    # Off by default: "[MASK]" is text, and text without it keeps its ids when it is on.
    assert [row.count(plain.mask_id) for row in plain.encode_batch(MASKED_TEXTS)] == [0] * len(MASKED_TEXTS)
    assert masked.encode_batch(TEXTS) == plain.encode_batch(TEXTS)
    assert graph_ids(layers.layer_for(masked), TEXTS) == plain.encode_batch(TEXTS)


def test_mask_token_layer_survives_its_config(spm_tok):
    layer = layers.layer_for(_with_masks(SentencePieceTokenizer(model_proto=spm_tok.model_proto)))
    clone = layers.SentencePieceTokenizerLayer.from_config(layer.get_config())
    assert graph_ids(clone, MASKED_TEXTS) == graph_ids(layer, MASKED_TEXTS)


@pytest.mark.realdata
def test_mask_token_in_real_vocabularies():
    en = SentencePieceTokenizer(testlib.realdata_path("assets/albert_en_spm/30k-clean.model"),
                                mask_token_in_text=True)
    zh = WordPieceTokenizer(testlib.realdata_path("assets/albert_zh/vocab.txt"), mask_token_in_text=True)
    assert (en.mask_id, zh.mask_id) == (4, 103)
    assert en.encode("Hello I'm a [MASK] model.") == en.encode("Hello I'm a") + [4] + en.encode("model.")
    assert zh.encode("今天天气[MASK]好。") == zh.encode("今天天气") + [103] + zh.encode("好。")
    for tok in (en, zh):
        assert graph_ids(layers.layer_for(tok), MASKED_TEXTS) == tok.encode_batch(MASKED_TEXTS)
