"""WordPieceTokenizer: BERT basic tokenizer semantics, greedy ## WordPiece, offsets."""

import unicodedata

import pytest

import tokenization_testlib as testlib

from albert_tf.tokenization import WordPieceTokenizer  # noqa: E402
from albert_tf.tokenization import io as tok_io  # noqa: E402


@pytest.fixture(scope="module")
def tiny(wordpiece_vocab_file):
    return WordPieceTokenizer(wordpiece_vocab_file)


@pytest.fixture(scope="module")
def albert_zh():
    return WordPieceTokenizer(testlib.realdata_path("assets/albert_zh/vocab.txt"))


# --- BERT's tokenization.py, written out plainly (character loops), as the reference. ---
def _is_ws(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_control(c):
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf")


def _is_punct(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(cp):
    return any(lo <= cp <= hi for lo, hi in [
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)])


def reference_basic(text, lower=True):
    text = "".join(" " if _is_ws(c) else c for c in text
                   if not (ord(c) in (0, 0xFFFD) or _is_control(c)))
    text = "".join(f" {c} " if _is_cjk(ord(c)) else c for c in text)
    out = []
    for token in text.strip().split():
        if lower:
            token = token.lower()
            token = "".join(c for c in unicodedata.normalize("NFD", token)
                            if unicodedata.category(c) != "Mn")
        words, new = [], True
        for c in token:
            if _is_punct(c):
                words.append(c)
                new = True
            else:
                if new:
                    words.append("")
                new = False
                words[-1] += c
        out.extend(words)
    return " ".join(out).split()


def reference_wordpiece(vocab, words, max_chars=200):
    out = []
    for word in words:
        if len(word) > max_chars:
            out.append("[UNK]")
            continue
        start, pieces = 0, []
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = ("##" if start else "") + word[start:end]
                if sub in vocab:
                    cur = sub
                    break
                end -= 1
            if cur is None:
                pieces = ["[UNK]"]
                break
            pieces.append(cur)
            start = end
        out.extend(pieces)
    return out


@pytest.mark.parametrize("text", testlib.EDGE_CASES + testlib.corpus_lines(60, seed=4))
def test_matches_bert_reference(tiny, text):
    words = reference_basic(text)
    assert tiny.basic.tokenize(text) == words
    assert tiny.tokenize(text) == reference_wordpiece(set(tiny.vocab), words)
    assert tiny.encode(text) == tiny.convert_tokens_to_ids(tiny.tokenize(text))


def test_cased_basic_tokenizer_keeps_accents(tmp_path):
    vocab = testlib.build_vocab(tmp_path)
    cased = WordPieceTokenizer(vocab, do_lower_case=False)
    text = "Crème BRÛLÉE, 中文!"
    assert cased.basic.tokenize(text) == reference_basic(text, lower=False)


def test_cjk_split_and_unk(tiny):
    words = tiny.basic.tokenize("ab中国cd")
    assert words == ["ab", "中", "国", "cd"]
    assert tiny.tokenize("qqq😀") == ["[UNK]"] or "[UNK]" in tiny.tokenize("qqq😀")
    assert tiny.tokenize("x" * 201) == ["[UNK]"]
    assert "[UNK]" not in tiny.tokenize("x" * 200)


def test_max_chars_per_word_setting(tmp_path):
    tok = WordPieceTokenizer(testlib.build_vocab(tmp_path), max_chars_per_word=5)
    assert tok.tokenize("xxxxxx") == ["[UNK]"]
    assert "[UNK]" not in tok.tokenize("xxxxx")


def test_special_ids(tiny):
    assert tiny.special_ids() == {k: tiny.vocab.index(v) for k, v in
                                  [("pad", "[PAD]"), ("unk", "[UNK]"), ("cls", "[CLS]"),
                                   ("sep", "[SEP]"), ("mask", "[MASK]")]}


def test_vocab_without_specials_is_refused(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("a\nb\n[UNK]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[CLS\]"):
        WordPieceTokenizer(path)


@pytest.mark.realdata
def test_real_vocab_ids(albert_zh):
    assert albert_zh.special_ids() == {"pad": 0, "unk": 100, "cls": 101, "sep": 102, "mask": 103}
    lines = tok_io.read_lines(testlib.realdata_path("lcqmc/dev.txt"))[:300]
    vocab = set(albert_zh.vocab)
    for line in lines:
        for text in line.split("\t")[:2]:
            assert albert_zh.tokenize(text) == reference_wordpiece(vocab, reference_basic(text))


@pytest.mark.parametrize("text", testlib.EDGE_CASES)
def test_offsets(tiny, text):
    enc = tiny.encode_with_offsets(text)
    assert enc.ids == tiny.encode(text)
    assert all(0 <= s <= e <= len(text) for s, e in enc.offsets)


def test_offsets_slice_original(tiny):
    text = "Unaffable CAFÉ 中国, ok"
    enc = tiny.encode_with_offsets(text)
    pieces = [text[s:e] for s, e in enc.offsets]
    assert pieces[:3] == ["Un", "aff", "able"]
    assert "CAFÉ" in "".join(pieces) and "中" in pieces and "国" in pieces


def test_decode(tiny):
    # "##" glues to the previous piece; CJK characters are joined without spaces.
    assert tiny.decode(tiny.encode("Unaffable ok , fox")) == "unaffable ok , fox"
    assert tiny.decode(tiny.encode("中国 北京")) == "中国北京"
    ids = [tiny.cls_id] + tiny.encode("ok") + [tiny.sep_id, tiny.pad_id]
    assert tiny.decode(ids) == "ok"
