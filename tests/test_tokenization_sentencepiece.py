"""SentencePieceTokenizer: ALBERT preprocessing, digit-comma rule, special ids, offsets."""

import unicodedata

import pytest

import tokenization_testlib as testlib

from albert_tf.tokenization import (SentencePieceTokenizer, char_span_to_token_span,  # noqa: E402
                                    normalize_with_alignment, preprocess_text)
from albert_tf.tokenization.sentencepiece import SPIECE_UNDERLINE  # noqa: E402

KNOWN_ANSWERS = testlib.KNOWN_ANSWERS


@pytest.fixture(scope="module")
def tiny(spm_model_file):
    return SentencePieceTokenizer(spm_model_file)


@pytest.fixture(scope="module")
def albert_en():
    return SentencePieceTokenizer(testlib.realdata_path("assets/albert_en_spm/30k-clean.model"))


def reference_preprocess(text, lower=True):
    """google-research/albert `preprocess_text`, written out plainly."""
    outputs = " ".join(text.strip().split())
    outputs = unicodedata.normalize("NFKD", outputs)
    outputs = "".join([c for c in outputs if not unicodedata.combining(c)])
    return outputs.lower() if lower else outputs


def reference_pieces(sp, text):
    """The reference `encode_pieces` digit-comma loop, re-encoding at run time."""
    new_pieces = []
    for piece in sp.encode(text, out_type=str):
        if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
            cur = sp.encode(piece[:-1].replace(SPIECE_UNDERLINE, ""), out_type=str)
            if piece[0] != SPIECE_UNDERLINE and cur[0][0] == SPIECE_UNDERLINE:
                cur = cur[1:] if len(cur[0]) == 1 else [cur[0][1:]] + cur[1:]
            cur.append(piece[-1])
            new_pieces.extend(cur)
        else:
            new_pieces.append(piece)
    return new_pieces


@pytest.mark.realdata
def test_known_answer_ids(albert_en):
    for text, want in KNOWN_ANSWERS:
        assert [albert_en.cls_id] + albert_en.encode(text) + [albert_en.sep_id] == want
        assert albert_en.pack(text, max_seq_length=len(want)).input_ids == want


def test_special_ids_read_from_model(tiny):
    assert tiny.special_ids() == {
        name: tiny.sp.piece_to_id(p) for name, p in
        [("pad", "<pad>"), ("unk", "<unk>"), ("cls", "[CLS]"), ("sep", "[SEP]"), ("mask", "[MASK]")]}
    assert (tiny.pad_id, tiny.unk_id) == (0, 1)
    assert len(set(tiny.special_ids().values())) == 5


def test_model_without_albert_specials_is_refused(tmp_path):
    import sentencepiece as spm
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(testlib.corpus_lines(200)), encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp_path / "plain"),
                                   vocab_size=120, minloglevel=2)
    with pytest.raises(ValueError, match=r"\[CLS\]"):
        SentencePieceTokenizer(tmp_path / "plain.model")


@pytest.mark.parametrize("text", testlib.EDGE_CASES + testlib.corpus_lines(40, seed=1))
def test_preprocess_matches_reference(text):
    assert preprocess_text(text) == reference_preprocess(text)
    assert preprocess_text(text, do_lower_case=False) == reference_preprocess(text, lower=False)
    normalized, starts, ends = normalize_with_alignment(text)
    assert normalized == reference_preprocess(text)
    assert len(starts) == len(ends) == len(normalized)
    assert all(0 <= s < e <= len(text) for s, e in zip(starts, ends))


def test_keep_accents_and_case_options(tiny):
    text = "Crème BRÛLÉE"
    assert preprocess_text(text, keep_accents=True, do_lower_case=False) == text
    assert preprocess_text(text, keep_accents=True) == "crème brûlée"
    assert preprocess_text(text) == "creme brulee"
    cased = SentencePieceTokenizer(model_proto=tiny.model_proto, do_lower_case=False)
    assert cased.normalize("ABC") == "ABC" and tiny.normalize("ABC") == "abc"


@pytest.mark.parametrize("text", testlib.EDGE_CASES + testlib.corpus_lines(60, seed=2))
def test_digit_comma_rule_matches_reference_loop(tiny, text):
    assert tiny.tokenize(text) == reference_pieces(tiny.sp, tiny.normalize(text))
    assert tiny.encode(text) == tiny.convert_tokens_to_ids(tiny.tokenize(text))


@pytest.mark.realdata
def test_digit_comma_rule_real_model(albert_en):
    texts = ["It cost $1,000, not 2,000,000, ok", "x1,2, and 3,5,7, ", "1,000,", "99,", "a9,b"]
    for text in texts:
        assert albert_en.tokenize(text) == reference_pieces(albert_en.sp, albert_en.normalize(text))
    pieces = albert_en.tokenize("1,000,")
    assert pieces[-1] == "," and not any(len(p) > 1 and p.endswith(",") and p[-2].isdigit()
                                         for p in pieces)
    # Turning the rule off gives plain SentencePiece output.
    off = SentencePieceTokenizer(model_proto=albert_en.model_proto, split_digit_comma=False)
    assert off.encode("1,000,") == albert_en.sp.encode("1,000,")


@pytest.mark.parametrize("text", testlib.EDGE_CASES)
def test_edge_cases_consistent(tiny, text):
    ids = tiny.encode(text)
    assert all(0 <= i < tiny.vocab_size for i in ids)
    assert tiny.encode_batch([text, text]) == [ids, ids]
    enc = tiny.encode_with_offsets(text)
    assert enc.ids == ids and len(enc.offsets) == len(ids) == len(enc.tokens)
    assert all(0 <= s <= e <= len(text) for s, e in enc.offsets)
    if not text.strip():
        assert ids == []


def test_batch_equals_single(tiny):
    lines = testlib.corpus_lines(100, seed=3)
    assert tiny.encode_batch(lines) == [tiny.encode(t) for t in lines]


def test_offsets_point_into_original_text(tiny):
    text = "  Caf\u00e9   NA\u0308IVE ﬁne 1,000, 中国  "
    enc = tiny.encode_with_offsets(text)
    for token, (s, e) in zip(enc.tokens, enc.offsets):
        surface = text[s:e]
        assert surface == surface.strip()  # whitespace trimmed
        if token.strip(SPIECE_UNDERLINE):
            # The original slice normalizes back to the token's text.
            assert token.strip(SPIECE_UNDERLINE) in tiny.normalize(surface) or \
                tiny.normalize(surface) in token
    words = {text[s:e] for s, e in enc.offsets}
    assert "中" in "".join(words) and "ﬁ" in "".join(words)
    # A combining accent stays with its base letter.
    start = text.index("NA")
    span = char_span_to_token_span(enc.offsets, start, start + len("NA\u0308IVE"))
    assert text[enc.offsets[span[0]][0]:enc.offsets[span[1]][1]] == "NA\u0308IVE"


@pytest.mark.realdata
def test_char_span_to_token_span_answers(albert_en):
    context = "The Broncos won Super Bowl 50 in 2016, beating the Panthers 24–10 at Levi's Stadium."
    enc = albert_en.encode_with_offsets(context)
    for answer in ["Super Bowl 50", "2016", "Panthers", "24–10", "Levi's Stadium"]:
        start = context.index(answer)
        first, last = char_span_to_token_span(enc.offsets, start, start + len(answer))
        assert context[enc.offsets[first][0]:enc.offsets[last][1]] == answer
    assert char_span_to_token_span(enc.offsets, 3, 4) is None  # only whitespace


@pytest.mark.realdata
def test_squad_offsets_sample(albert_en):
    import json
    path = testlib.realdata_path("squad/dev-v1.1.json")
    data = json.loads(path.read_text(encoding="utf-8"))["data"][:8]
    total = exact = 0
    for article in data:
        for para in article["paragraphs"]:
            context = para["context"]
            enc = albert_en.encode_with_offsets(context)
            assert enc.ids == albert_en.encode(context)
            for qa in para["qas"]:
                for ans in qa["answers"]:
                    start, text = ans["answer_start"], ans["text"]
                    span = char_span_to_token_span(enc.offsets, start, start + len(text))
                    total += 1
                    got = context[enc.offsets[span[0]][0]:enc.offsets[span[1]][1]]
                    exact += got == text
                    assert text in got  # never loses part of the answer
    assert total > 500 and exact / total >= 0.99


@pytest.mark.parametrize("name", ["tiny", "albert_en"])
def test_ids_pieces_text_roundtrip(request, name):
    tok = request.getfixturevalue(name)
    text = "the quick brown fox 1,000, dollars"
    ids = tok.encode(text)
    assert tok.convert_tokens_to_ids(tok.convert_ids_to_tokens(ids)) == ids
    assert tok.decode(ids) == tok.normalize(text)
    assert tok.decode([tok.cls_id] + ids + [tok.sep_id, tok.pad_id]) == tok.normalize(text)


def test_long_text_is_truncated_when_packed(tiny):
    text = " ".join(testlib.corpus_lines(50))
    packed = tiny.pack(text, text, max_seq_length=64)
    assert len(packed.input_ids) == 64 and all(packed.input_mask)
    assert packed.input_ids[0] == tiny.cls_id and packed.input_ids[-1] == tiny.sep_id
    assert packed.input_ids.count(tiny.sep_id) == 2
