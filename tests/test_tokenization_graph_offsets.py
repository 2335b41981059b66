"""In-graph byte offsets into the original text: every token's slice of the raw string equals the host
tokenizer's character span, for SentencePiece (lowercasing, NFKD, whitespace collapse, digit commas, quotes)
and WordPiece, on the shared edge cases; the ids are those of the plain in-graph tokenizer."""


import pytest
import tensorflow as tf

from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer
from albert_tf.tokenization.layers import layer_for

import tokenization_testlib as testlib

TEXTS = testlib.EDGE_CASES + ["The capital of Peru is  Lima.", "  Café in Lima, Perú — ﬁne 1,250,000 ",
                              "秘鲁的首都是利马（Lima），人口约1000万。", "e\u0301cole ΣΟΦΟΣ Straße ½"]


def _assert_offsets_match(tokenizer):
    layer = layer_for(tokenizer)
    ids, begins, ends = layer.tokenize_with_offsets(tf.constant(TEXTS))
    assert ids.to_list() == layer(tf.constant(TEXTS)).to_list()
    for row, text in enumerate(TEXTS):
        encoding = tokenizer.encode_with_offsets(text)
        assert ids[row].numpy().tolist() == encoding.ids, text
        raw = text.encode("utf-8")
        got = [raw[b:e].decode("utf-8").strip() for b, e in zip(begins[row].numpy(), ends[row].numpy())]
        assert got == [text[s:e] for s, e in encoding.offsets], text


@pytest.mark.parametrize("settings", [{}, {"replace_quotes": True}, {"do_lower_case": False, "keep_accents": True}])
def test_sentencepiece_offsets_point_into_the_original_text(spm_model_file, settings):
    _assert_offsets_match(SentencePieceTokenizer(spm_model_file, **settings))


def test_wordpiece_offsets_point_into_the_original_text(tmp_path):
    _assert_offsets_match(WordPieceTokenizer(str(testlib.build_vocab(tmp_path))))


@pytest.mark.realdata
def test_released_vocabularies():
    _assert_offsets_match(SentencePieceTokenizer(str(testlib.realdata_path("assets/albert_en_spm/30k-clean.model"))))
    _assert_offsets_match(WordPieceTokenizer(str(testlib.realdata_path("assets/albert_zh/vocab.txt"))))
