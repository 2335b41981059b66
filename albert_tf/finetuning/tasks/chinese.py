"""Chinese tasks: LCQMC (tsv) and the CLUE classification tasks (json lines)."""

import collections
from typing import List

from albert_tf.finetuning.examples import DataError, Example
from albert_tf.finetuning.readers import read_jsonl, require_file
from albert_tf.finetuning.tasks.base import CLUE_JSON, Task, TsvTask, nonempty, register

BINARY = ("0", "1")
NLI3 = ("contradiction", "entailment", "neutral")


@register
class LCQMC(TsvTask):
    """Question matching: text_a, text_b, label; no header. Its test set is labelled and evaluated."""
    name = "LCQMC"
    language = "zh"
    labels = BINARY
    has_header = False
    num_columns = 3
    text_columns = (0, 1)
    label_column = 2
    test_has_header = False
    test_num_columns = 3
    test_file_has_labels = True
    text_names = (("text_a", "sentence1"), ("text_b", "sentence2"))
    split_files = {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"}
    eval_splits = ("dev", "test")
    predict_splits = {"LCQMC": "test"}


class JsonTask(Task):
    """CLUE json-lines files; `text_fields` name the one or two text fields."""

    language = "zh"
    submission_format = CLUE_JSON
    split_files = {"train": "train.json", "dev": "dev.json", "test": "test.json"}
    text_fields = ("sentence1", "sentence2")
    skip_labels = ()

    def texts(self, obj, source):
        return [nonempty(self.field(obj, name, source), source, f"field {name!r}") for name in self.text_fields]

    @staticmethod
    def field(obj, name, source):
        if name not in obj:
            raise DataError(f"{source}: missing field {name!r} (fields: {sorted(obj)})")
        return obj[name]

    def file_has_labels(self, path: str) -> bool:
        require_file(path, f"{self.name} file")
        rows = read_jsonl(path)
        try:
            first = next(rows, None)
        finally:
            rows.close()
        return first is not None and "label" in first[1]

    def read_file(self, path: str, labelled: bool) -> List[Example]:
        require_file(path, f"{self.name} {'labelled' if labelled else 'test'} file")
        examples, skipped = [], collections.Counter()
        for lineno, obj in read_jsonl(path):
            source = f"{path}:{lineno}"
            label = None
            if labelled:
                if "label" not in obj:
                    raise DataError(f"{source}: no 'label' field (fields: {sorted(obj)}); an unlabelled test "
                                    "file cannot be used for training or evaluation")
                if str(obj["label"]) in self.skip_labels:
                    skipped[str(obj["label"])] += 1
                    continue
                label = self.check_label(obj["label"], source)
            elif str(obj.get("label", "")).strip() not in ("", "-1", "None"):
                raise DataError(f"{source}: field 'label' = {obj['label']!r} in the test split, which is predicted: "
                                "a labelled file was given where the unlabelled test file belongs (use it with "
                                "--do_eval, or give the test file)")
            texts = self.texts(obj, source)
            examples.append(Example(guid=str(obj.get("id", len(examples))), text_a=texts[0],
                                    text_b=texts[1] if len(texts) > 1 else None, label=label, source=source))
        self.report_skipped(path, skipped)
        return examples


@register
class AFQMC(JsonTask):
    name = "AFQMC"
    labels = BINARY
    predict_splits = {"afqmc": "test"}


@register
class TNEWS(JsonTask):
    """News titles, 15 categories coded 100–116 (105 and 111 unused)."""
    name = "TNEWS"
    labels = tuple(str(code) for code in range(100, 117) if code not in (105, 111))
    text_fields = ("sentence",)
    predict_splits = {"tnews": "test"}


@register
class IFLYTEK(JsonTask):
    """App descriptions, 119 categories "0"–"118"."""
    name = "IFLYTEK"
    labels = tuple(str(i) for i in range(119))
    text_fields = ("sentence",)
    predict_splits = {"iflytek": "test"}


@register
class CMNLI(JsonTask):
    """Rows labelled "-" (no annotator agreement) are skipped, as in the CLUE baselines."""
    name = "CMNLI"
    labels = NLI3
    skip_labels = ("-",)
    predict_splits = {"cmnli": "test"}


@register
class OCNLI(JsonTask):
    name = "OCNLI"
    labels = NLI3
    skip_labels = ("-",)
    split_files = {"train": "train.50k.json", "dev": "dev.json", "test": "test.json"}
    predict_splits = {"ocnli": "test"}


@register
class CSL(JsonTask):
    """Keyword list vs abstract: text_a is the keywords joined by spaces, text_b the abstract."""
    name = "CSL"
    labels = BINARY
    predict_splits = {"csl": "test"}

    def texts(self, obj, source):
        keywords = self.field(obj, "keyword", source)
        if not isinstance(keywords, list):
            raise DataError(f"{source}: field 'keyword' must be a list, got {type(keywords).__name__}")
        return [nonempty(" ".join(str(k) for k in keywords), source, "field 'keyword'"),
                nonempty(self.field(obj, "abst", source), source, "field 'abst'")]


@register
class CLUEWSC2020(JsonTask):
    """Pronoun resolution: the noun (span1) is marked _like this_ and the pronoun (span2) [like this]."""
    name = "CLUEWSC2020"
    labels = ("false", "true")
    predict_splits = {"cluewsc2020": "test"}

    def texts(self, obj, source):
        text = nonempty(self.field(obj, "text", source), source, "field 'text'")
        target = self.field(obj, "target", source)
        spans = []
        for number, (left, right) in ((1, ("_", "_")), (2, ("[", "]"))):
            span_text = str(self.field(target, f"span{number}_text", source))
            index = self.field(target, f"span{number}_index", source)
            if not isinstance(index, int) or text[index:index + len(span_text)] != span_text:
                raise DataError(f"{source}: target.span{number}_index={index!r} does not point at "
                                f"span{number}_text={span_text!r} in the text")
            spans.append((index, len(span_text), left, right))
        # Insert from the right so the earlier index stays valid.
        for index, length, left, right in sorted(spans, reverse=True):
            text = text[:index] + left + text[index:index + length] + right + text[index + length:]
        return [text]
