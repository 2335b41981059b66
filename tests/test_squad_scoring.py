"""Which metric scores a run: CMRC2018 for Chinese (vocabulary or context text), SQuAD for English, forced by flag;
and the warning for gold answers the decoder cannot reach."""

import json

import pytest

from conftest import FIXTURES
from albert_tf.squad import reading, scoring


class _Chars:
    """A stand-in tokenizer: one token per character; `vocab` as WordPiece tokenizers hold it."""

    def __init__(self, vocab=None):
        if vocab is not None:
            self.vocab = vocab

    @staticmethod
    def encode(text):
        return list(text)


ENGLISH = ["the river thames flows through london."]
CHINESE = ["长江是中国最长的河流，全长6300公里。"]


def test_auto_choice_from_the_vocabulary_then_the_text():
    chinese_vocab = _Chars(["[PAD]", "[UNK]", "的", "是", "长", "江", "##s"])
    english_vocab = _Chars(["[PAD]", "[UNK]", "the", "##s", "river", "a", "b", "c"])
    assert scoring.choose_metric("auto", "1.1", chinese_vocab, ENGLISH)[0] == "cmrc2018"
    metric, why = scoring.choose_metric("auto", "1.1", english_vocab, CHINESE)
    assert metric == "cmrc2018" and "of the context characters are Chinese" in why
    assert scoring.choose_metric("auto", "1.1", _Chars(), ENGLISH)[0] == "squad"  # SentencePiece: no vocab list
    assert scoring.choose_metric("squad", "1.1", chinese_vocab, CHINESE) == ("squad", "--eval_metric=squad")
    assert scoring.choose_metric("cmrc2018", "1.1", _Chars(), ENGLISH)[0] == "cmrc2018"
    assert scoring.choose_metric("auto", "2.0", chinese_vocab, CHINESE)[0] == "squad"
    with pytest.raises(ValueError, match="--eval_metric=cmrc2018 needs --version=1.1"):
        scoring.choose_metric("cmrc2018", "2.0", _Chars(), CHINESE)


def test_scores_name_their_metric_and_differ_on_chinese():
    gold, predictions = {"q": ["北京大学图书馆"]}, {"q": "北京大学图书"}
    cmrc, squad = scoring.score_v1("cmrc2018", gold, predictions), scoring.score_v1("squad", gold, predictions)
    assert cmrc["metric"] == "cmrc2018" and cmrc["f1"] == pytest.approx(100 * 12 / 13)
    assert squad["metric"] == "squad" and squad["f1"] == 0.0


def test_long_gold_answers_are_counted(tmp_path):
    examples, _ = reading.read_squad(str(FIXTURES / "squad" / "cmrc-style-zh.json"), "1.1", training=False)
    lengths = sorted(max(len(t) for t in e.answer_texts) for e in examples)
    assert scoring.long_answer_warning(examples, _Chars(), lengths[-1], "f.json") is None
    limit = lengths[-1] - 1
    expected = sum(n > limit for n in lengths)
    message = scoring.long_answer_warning(examples, _Chars(), limit, "f.json")
    assert message.startswith(f"f.json: {expected} of {len(examples)} questions have a gold answer longer than "
                              f"--max_answer_length={limit} tokens")
    # Several golds: a question counts as out of reach only when every one of its answers is too long.
    data = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "长江是中国最长的河流", "qas": [
        {"id": "a", "question": "?", "answers": [{"text": "长江", "answer_start": 0},
                                                 {"text": "中国最长的河流", "answer_start": 3}]}]}]}]}
    path = tmp_path / "two.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    examples, _ = reading.read_squad(str(path), "1.1", training=False)
    assert "1 of 1 questions have a gold answer longer than --max_answer_length=3 tokens (0 where every gold " \
        "answer is; the longest has 7 tokens)" in scoring.long_answer_warning(examples, _Chars(), 3, "two.json")
