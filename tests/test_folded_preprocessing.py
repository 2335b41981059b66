"""ALBERT's preprocessing folded into a SentencePiece model's normalizer: the plain model on raw text gives our ids."""

import sentencepiece as spm

from albert_tf.tokenization import SentencePieceTokenizer
from albert_tf.tokenization.folded_preprocessing import NORMALIZER_NAME, folded_model_proto, unfoldable
from albert_tf.tokenization.sentencepiece import digit_comma_rewrites

TEXTS = ["The Film Is A CHARMING Ride", "Amélie, naïveté and a café crème", "ＦＵＬＬ width  and\ttabs",
         "``quoted'' words", "e\u0301 composed separately", "ÀÉÎÕÜ Ç Ñ ß Ø"]


def test_plain_model_on_raw_text_gives_our_ids(spm_model_file):
    ours = SentencePieceTokenizer(spm_model_file, replace_quotes=True)
    raw = spm.SentencePieceProcessor(model_file=spm_model_file)
    assert any(raw.encode(text) != ours.encode(text) for text in TEXTS)  # the case being fixed
    proto = folded_model_proto(ours)
    folded = spm.SentencePieceProcessor(model_proto=proto)
    for text in TEXTS:
        assert folded.encode(text) == ours.encode(text), text
    assert NORMALIZER_NAME.encode() in proto  # the normalizer says what it is


def test_digit_comma_rule_is_reported_as_unfoldable(spm_tokenizer):
    expected = ["split_digit_comma"] if digit_comma_rewrites(spm_tokenizer.sp) else []
    assert unfoldable(spm_tokenizer) == expected
    assert unfoldable(SentencePieceTokenizer(model_proto=spm_tokenizer.model_proto, split_digit_comma=False)) == []
