"""NER data: tag schemes, CoNLL / CLUENER readers, windows of pieces and their merge, prediction files."""

import json
from pathlib import Path

import numpy as np
import pytest


from albert_tf.finetuning.examples import DataError  # noqa: E402
from albert_tf.ner import features, outputs, reading, schemes  # noqa: E402
from albert_tf.ner.schemes import TagSchemeError  # noqa: E402
from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer  # noqa: E402


def _write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


# === schemes ===

def test_iob2_is_kept_and_an_inside_start_is_refused():
    assert schemes.to_iob2(["B-PER", "I-PER", "O", "B-LOC"], "IOB2") == ["B-PER", "I-PER", "O", "B-LOC"]
    with pytest.raises(TagSchemeError, match=r"line 7: tag 'I-PER' after 'B-LOC' breaks IOB2: I-PER must follow"):
        schemes.to_iob2(["B-LOC", "I-PER"], "IOB2", where=lambda i: f"line {6 + i}")
    with pytest.raises(TagSchemeError, match=r"tag 'I-PER' after 'O' breaks IOB2"):
        schemes.to_iob2(["O", "I-PER"], "IOB2")


def test_iob1_starts_with_inside_and_uses_begin_only_between_same_types():
    # I-PER after B-LOC is a legal IOB1 start of a new PER entity.
    assert schemes.to_iob2(["I-LOC", "B-LOC", "I-PER"], "IOB1") == ["B-LOC", "B-LOC", "B-PER"]
    assert schemes.to_iob2(["I-LOC", "I-LOC", "B-LOC", "I-PER", "O", "I-ORG"], "IOB1") == [
        "B-LOC", "I-LOC", "B-LOC", "B-PER", "O", "B-ORG"]
    with pytest.raises(TagSchemeError, match=r"tag 'B-PER' after 'O' breaks IOB1: B-PER only separates"):
        schemes.to_iob2(["O", "B-PER"], "IOB1")


def test_bioes_and_bilou_are_converted_and_unclosed_entities_refused():
    assert schemes.to_iob2(["S-PER", "B-LOC", "I-LOC", "E-LOC", "O"], "BIOES") == [
        "B-PER", "B-LOC", "I-LOC", "I-LOC", "O"]
    assert schemes.to_iob2(["U-PER", "B-LOC", "L-LOC"], "BILOU") == ["B-PER", "B-LOC", "I-LOC"]
    with pytest.raises(TagSchemeError, match=r"tag 'O' after 'B-LOC' breaks BIOES: the LOC entity opened before"):
        schemes.to_iob2(["B-LOC", "O"], "BIOES")
    with pytest.raises(TagSchemeError, match=r"not closed by E-LOC"):
        schemes.to_iob2(["B-LOC", "I-LOC"], "BIOES")
    with pytest.raises(TagSchemeError, match=r"tag 'E-PER' after 'O' breaks BIOES"):
        schemes.to_iob2(["O", "E-PER"], "BIOES")
    with pytest.raises(TagSchemeError, match=r"BILOU has no S- prefix"):
        schemes.to_iob2(["S-PER"], "BILOU")


def test_scheme_detection_and_malformed_tags():
    assert schemes.detect_scheme([["B-X", "I-X"], ["O"]]) == "IOB2"
    assert schemes.detect_scheme([["I-X", "B-X"]]) == "IOB1"
    assert schemes.detect_scheme([["B-X", "E-X"], ["S-Y"]]) == "BIOES"
    assert schemes.detect_scheme([["U-X"]]) == "BILOU"
    with pytest.raises(TagSchemeError, match="mix BIOES"):
        schemes.detect_scheme([["S-X"], ["U-X"]])
    for bad in ("PER", "B_PER", "X-PER", "B-", "b-PER"):
        with pytest.raises(TagSchemeError, match="is not O or"):
            schemes.parse_tag(bad)


def test_entities_and_tags_for_are_inverse_and_refuse_overlaps():
    spans = [("PER", 0, 2), ("LOC", 2, 3), ("PER", 5, 6)]
    tags = schemes.tags_for(6, spans)
    assert tags == ["B-PER", "I-PER", "B-LOC", "O", "O", "B-PER"]
    assert schemes.entities(tags) == spans
    assert schemes.entities(["O", "I-X", "B-X", "I-Y"]) == [("X", 2, 3)]  # stray I- tags are no entity
    with pytest.raises(ValueError, match="overlaps"):
        schemes.tags_for(4, [("A", 0, 2), ("B", 1, 3)])


# === CoNLL ===

CONLL = """-DOCSTART- -X- O

EU NNP I-ORG
rejects VBZ O
German JJ I-MISC
call NN O

Peter NNP I-PER
Blackburn NNP I-PER
Smith NNP B-PER
"""


def test_conll_reads_iob1_skips_docstart_and_converts(tmp_path):
    path = _write(tmp_path, "train.txt", CONLL)
    sentences = reading.read_conll(path)
    assert [s.words for s in sentences] == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn", "Smith"]]
    assert sentences[0].tags == ["B-ORG", "O", "B-MISC", "O"]
    assert sentences[1].tags == ["B-PER", "I-PER", "B-PER"]
    assert sentences[0].text == "EU rejects German call" and sentences[0].word_starts == [0, 3, 11, 18]
    assert sentences[1].source == f"{path}:8"
    tab = _write(tmp_path, "tab.txt", CONLL.replace(" ", "\t").replace("-DOCSTART-\t-X-\tO", "-DOCSTART-"))
    assert [s.tags for s in reading.read_ner_file(tab)] == [s.tags for s in sentences]


def test_conll_errors_name_file_line_and_tag(tmp_path):
    path = _write(tmp_path, "bad.txt", "A x B-PER\nB x I-LOC\n")
    with pytest.raises(DataError, match=rf"{path}:1: tag 'B-PER' after 'O' breaks IOB1"):
        reading.read_conll(path, scheme="IOB1")
    with pytest.raises(DataError, match=rf"{path}:2: tag 'I-LOC' after 'B-PER' breaks IOB2"):
        reading.read_conll(path, scheme="IOB2")
    # auto: the I-LOC start makes it IOB1, where B-PER after nothing is illegal
    with pytest.raises(DataError, match=rf"{path}:1: tag 'B-PER' after 'O' breaks IOB1.*\(read as IOB1 because "
                                        rf"{path}:2 starts an entity with 'I-LOC'; in an IOB2 file that line is"):
        reading.read_conll(path)
    mixed = _write(tmp_path, "mixed.txt", "A x O\nB\nC x O\n")
    with pytest.raises(DataError, match=rf"{mixed}:2: 1 column\(s\) where line 1 has 3"):
        reading.read_conll(mixed)
    badtag = _write(tmp_path, "badtag.txt", "A x O\nB x PER\n")
    with pytest.raises(DataError, match=rf"{badtag}:2: last column 'PER' is not a tag"):
        reading.read_conll(badtag)


def test_conll_one_column_is_a_predict_file_only(tmp_path):
    path = _write(tmp_path, "test.txt", "Peter\nlives\n\nhere\n")
    sentences = reading.read_conll(path)
    assert [s.words for s in sentences] == [["Peter", "lives"], ["here"]] and sentences[0].tags is None
    with pytest.raises(DataError, match=rf"{path}:1: one column \(a word without a tag\)"):
        reading.read_conll(path, labelled=True)
    tagged = _write(tmp_path, "tagged.txt", "Peter B-PER\n")
    assert reading.read_conll(tagged, labelled=False)[0].tags is None


def test_other_layouts_are_refused_not_misread(tmp_path):
    tsv = _write(tmp_path, "dev.tsv", "sentence\tlabel\nit is good\t1\nbad film\t0\n")
    with pytest.raises(DataError, match=rf"{tsv}:1: last column 'label' is not a tag.*classification tsv"):
        reading.read_ner_file(tsv)
    cluener = _write(tmp_path, "dev.json", json.dumps({"text": "北京", "label": {}}) + "\n")
    with pytest.raises(DataError, match=rf"{cluener}:1: a json object, not CoNLL columns"):
        reading.read_conll(cluener)
    conll = _write(tmp_path, "conll.txt", "A x O\n")
    with pytest.raises(DataError, match=rf"{conll}:1: not a json object"):
        reading.read_cluener(conll)
    brace = _write(tmp_path, "brace.txt", "{ O\nx O\n")
    assert reading.read_ner_file(brace)[0].words == ["{", "x"]
    squad = _write(tmp_path, "squad.json", json.dumps({"version": "1.1", "data": []}) + "\n")
    with pytest.raises(DataError, match=rf"{squad}:1: unknown field\(s\) \['data', 'version'\]"):
        reading.read_ner_file(squad)


def test_invalid_utf8_names_file_and_line(tmp_path):
    conll = _write(tmp_path, "latin1.txt", b"A x O\nM\xfcller x B-PER\n")
    with pytest.raises(DataError, match=rf"{conll}:2: invalid UTF-8"):
        reading.read_conll(conll)
    jsonl = _write(tmp_path, "latin1.json", b'{"text": "ab"}\n{"text": "M\xfcller"}\n')
    with pytest.raises(DataError, match=rf"{jsonl}:2: invalid UTF-8"):
        reading.read_cluener(jsonl)


# === CLUENER ===

def _line(text, label=None, **extra):
    record = {"text": text, **extra}
    if label is not None:
        record["label"] = label
    return json.dumps(record, ensure_ascii=False)


def test_cluener_characters_with_inclusive_spans(tmp_path):
    path = _write(tmp_path, "dev.json", _line("彭小军在台湾 ok", {"name": {"彭小军": [[0, 2]]}, "address": {"台湾": [[4, 5]]}})
                  + "\n" + _line("无", {}) + "\n")
    first, second = reading.read_ner_file(path)
    assert first.words == list("彭小军在台湾 ok") and first.word_starts == list(range(9))
    assert first.tags == ["B-name", "I-name", "I-name", "O", "B-address", "I-address", "O", "O", "O"]
    assert second.tags == ["O"] and first.guid == f"{path}:1"


@pytest.mark.parametrize("label, message", [
    ({"name": {"彭小": [[0, 2]]}}, r"field 'label.name.彭小': span \[0, 2\] holds '彭小军', not the entity text"),
    ({"name": {"彭小军": [[0, 2]]}, "company": {"军在": [[2, 3]]}}, r"field 'label': spans overlap"),
    ({"name": {"彭小军": [[0, 9]]}}, r"field 'label.name.彭小军': span \[0, 9\] is outside the text of 6 characters"),
    ({"name": {"彭小军": [0, 2]}}, r"field 'label.name.彭小军': 0 is not a \[start, end\] pair"),
    ({"name": ["彭小军"]}, r"field 'label', type 'name': expected a type name"),
])
def test_cluener_bad_spans_are_refused_with_file_line_and_field(tmp_path, label, message):
    path = _write(tmp_path, "dev.json", _line("一二三", {}) + "\n" + _line("彭小军在台湾", label) + "\n")
    with pytest.raises(DataError, match=rf"{path}:2: {message}"):
        reading.read_cluener(path)


def test_cluener_nested_spans_refused_unless_the_outer_one_is_asked_for(tmp_path):
    label = {"book": {"《招商银行》": [[0, 5]]}, "company": {"招商银行": [[1, 4]]}, "name": {"李": [[6, 6]]}}
    path = _write(tmp_path, "train.json", _line("《招商银行》李", label) + "\n")
    with pytest.raises(DataError, match=rf"{path}:1: field 'label': spans overlap: book \[0, 5\] .*company "
                                        r"\[1, 4\] '招商银行'; nested='outer' keeps the outer span"):
        reading.read_cluener(path)
    (sentence,) = reading.read_ner_file(path, nested="outer")
    assert sentence.tags == ["B-book"] + ["I-book"] * 5 + ["B-name"]
    crossing = _write(tmp_path, "crossing.json", _line("招商银行", {"a": {"招商银": [[0, 2]]}, "b": {"银行": [[2, 3]]}}))
    with pytest.raises(DataError, match=r"spans overlap: a \[0, 2\] '招商银' and b \[2, 3\] '银行'$"):
        reading.read_cluener(crossing, nested="outer")


def test_cluener_unknown_fields_and_unlabelled_files(tmp_path):
    path = _write(tmp_path, "dev.json", _line("一二", {}, source="x") + "\n")
    with pytest.raises(DataError, match=rf"{path}:1: unknown field\(s\) \['source'\]"):
        reading.read_cluener(path)
    test = _write(tmp_path, "test.json", _line("一二", id=7) + "\n" + _line("三", id=8) + "\n")
    sentences = reading.read_ner_file(test)
    assert [s.tags for s in sentences] == [None, None] and [s.record_id for s in sentences] == [7, 8]
    assert sentences[0].guid == "7"
    with pytest.raises(DataError, match=rf"{test}:1: field 'label' missing"):
        reading.read_cluener(test, labelled=True)


# === features ===

def _sentence(words, tags=None):
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    return reading.NerSentence(guid="t:1", text=" ".join(words), words=list(words), word_starts=starts,
                               tags=tags, source="t:1")


def test_label_list_and_first_piece_labels(spm_tokenizer):
    sentence = _sentence(["the", "brownfox", "price", "rose"], ["O", "B-X", "I-X", "B-Y"])
    labels = features.label_list([sentence])
    assert labels == ["O", "B-X", "I-X", "B-Y", "I-Y"]
    (window,) = features.make_windows([sentence], spm_tokenizer, labels, 32, 8)
    pieces = spm_tokenizer.encode_with_offsets("brownfox")
    assert len(pieces.ids) > 1  # the test needs a word of several pieces
    tagged = [(p, window.label_ids[p], window.word_index[p]) for p in range(32) if window.label_ids[p] != -100]
    assert [t[1:] for t in tagged] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert window.input_ids[0] == spm_tokenizer.cls_id
    assert window.input_ids[sum(window.input_mask) - 1] == spm_tokenizer.sep_id
    assert sum(window.input_mask) == 2 + len(spm_tokenizer.encode(sentence.text))
    assert window.label_ids[0] == features.IGNORE and window.word_index[0] == -1


def test_long_sentences_are_windowed_and_merged_back_whole(spm_tokenizer):
    words = ("the quick brown fox jumps over lazy dog price rose to dollars in year million people live city "
             "river north south album song released chart week").split() * 3
    tags = [("B-X" if i % 5 == 0 else "I-X") if i % 7 < 3 else "O" for i in range(len(words))]
    tags = schemes.tags_for(len(words), schemes.entities(tags))
    sentence = _sentence(words, tags)
    labels = features.label_list([sentence])
    windows = features.make_windows([sentence, _sentence(["a"], ["O"])], spm_tokenizer, labels, 16, 5)
    assert len(windows) > 5 and windows.stats["split_sentences"] == 1
    arrays = features.windows_to_arrays(windows)
    firsts = arrays["word_index"][arrays["is_max_context"] & (arrays["sentence_index"][:, None] == 0)]
    assert sorted(firsts[firsts >= 0].tolist()) == list(range(len(words)))  # each word read exactly once
    merged = features.merge_windows([sentence, _sentence(["a"], ["O"])], windows,
                                    features.one_hot_logits(windows, len(labels)))
    assert [t for t, _ in merged[0]] == tags and all(p > 0.99 for _, p in merged[0])
    # The merge reads each word from its max-context window: garbage elsewhere changes nothing.
    logits = features.one_hot_logits(windows, len(labels))
    logits[~arrays["is_max_context"]] = np.random.default_rng(0).normal(size=(len(labels),)) * 100
    assert [t for t, _ in features.merge_windows([sentence, _sentence(["a"], ["O"])], windows, logits)[0]] == tags


def test_word_without_pieces_is_counted_and_follows_its_neighbours(spm_tokenizer):
    sentence = _sentence(["north", "\u200b", "south", "\u200b", "city"], ["B-X", "I-X", "I-X", "O", "O"])
    labels = features.label_list([sentence])
    windows = features.make_windows([sentence], spm_tokenizer, labels, 32, 8)
    assert windows.stats["empty_words"] == 2 and "word 1 '\\u200b'" in windows.stats["empty_word_examples"][0]
    merged = features.merge_windows([sentence], windows, features.one_hot_logits(windows, len(labels)))
    assert [t for t, _ in merged[0]] == sentence.tags


def test_pieces_from_text_loses_a_boundary_inside_a_piece():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "vsac", "v", "s", "a", "c", "米", "兰"]
    tokenizer = WordPieceTokenizer(vocab=vocab)
    text = "vsac米兰"
    sentence = reading.NerSentence(guid="1", text=text, words=list(text), word_starts=list(range(len(text))),
                                   tags=["O", "O", "B-org", "I-org", "I-org", "I-org"], source="d.json:1")
    words = features.gold_round_trip([sentence], tokenizer, 16, 8)
    assert (words["recovered"], words["total"]) == (1, 1)
    whole = features.gold_round_trip([sentence], tokenizer, 16, 8, pieces_from="text")
    assert whole["recovered"] == 0 and whole["stats"]["inside_words"] == 3
    assert "d.json:1: org 'ac米兰' (words 2-5): a boundary falls inside a piece (vsac" in whole["misses"][0]


def test_tag_outside_the_label_set_is_refused(spm_tokenizer):
    sentence = _sentence(["north", "city"], ["B-X", "B-Z"])
    with pytest.raises(DataError, match=r"t:1: word 1 'city': tag 'B-Z' is not one of the model's labels"):
        features.make_windows([sentence], spm_tokenizer, ["O", "B-X", "I-X"], 16, 4)
    with pytest.raises(ValueError, match="stride=0"):
        features.make_windows([sentence], spm_tokenizer, ["O"], 16, 0)


# === outputs ===

def test_prediction_files(tmp_path):
    cluener = _write(tmp_path, "test.json", _line("彭小军在台湾", {"name": {"彭小军": [[0, 2]]}}, id=3) + "\n")
    (sentence,) = reading.read_cluener(cluener)
    predicted = [("B-name", 0.9), ("I-name", 0.7), ("I-name", 0.8), ("O", 1.0), ("B-address", 0.5),
                 ("I-address", 0.5)]
    submission = str(tmp_path / "submission.json")
    outputs.write_cluener_submission(submission, [sentence], [predicted])
    assert json.loads(Path(submission).read_text(encoding="utf-8")) == {
        "id": 3, "label": {"name": {"彭小军": [[0, 2]]}, "address": {"台湾": [[4, 5]]}}}
    found = outputs.entities_in_text(sentence, predicted)
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in found] == [
        ("name", "彭小军", 0, 3), ("address", "台湾", 4, 6)]
    assert found[0]["score"] == pytest.approx(0.8)
    conll = str(tmp_path / "pred.txt")
    outputs.write_conll_predictions(conll, [_sentence(["EU", "rejects"], ["B-ORG", "O"])], [["B-ORG", "B-MISC"]])
    assert Path(conll).read_text(encoding="utf-8") == "EU B-ORG B-ORG\nrejects O B-MISC\n"
    spaced = reading.NerSentence(guid="1", text="a b", words=list("a b"), word_starts=[0, 1, 2], tags=None,
                                 source="1")
    outputs.write_conll_predictions(conll, [spaced, spaced], [["B-X", "I-X", "I-X"], ["O", "O", "O"]])
    assert Path(conll).read_text(encoding="utf-8") == "a B-X\n\\u0020 I-X\nb I-X\n\na O\n\\u0020 O\nb O\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.txt", "submission.json", "test.json"]
    with pytest.raises(ValueError, match="2 words but 1 predicted tags"):
        outputs.write_conll_predictions(conll, [_sentence(["EU", "rejects"])], [["O"]])
