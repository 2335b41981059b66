"""The official CMRC2018 evaluation definitions (Chinese span extraction), re-implemented.

SQuAD's metric splits on whitespace, so on Chinese it collapses to exact match (an answer one
character short scores F1 0). CMRC2018 scores differently:
- both strings are lowercased and stripped; the punctuation set `PUNCTUATION` is deleted;
- EM: the two strings are equal after that;
- F1: "mixed segmentation" (every CJK character U+4E00-U+9FA5 is one segment, each run of other
  characters is split into words by NLTK's English word tokenizer), then the longest common
  *contiguous* run of segments gives precision and recall;
- both are the maximum over the gold answers, averaged over every question (a question without
  a prediction scores 0), in percent.
"""

import re
from typing import Dict, List, Mapping, Sequence

from nltk.tokenize import NLTKWordTokenizer

from albert_tf.squad.evaluation import average_over_questions

# The official list, character by character. It also holds "……" as a single two-character entry,
# which its per-character membership test can never match, so "…" is not deleted (as officially).
PUNCTUATION = frozenset("-:_*^/\\~`+=" "，。：？！“”；’《》·、「」（）－～『』")
_CJK = re.compile("[\u4e00-\u9fa5]")

# `nltk.word_tokenize` first splits sentences with the punkt model, whose data NLTK downloads at
# run time; we call its word tokenizer on the whole run instead (what `preserve_line=True` does).
# The only difference: a period that punkt would call a sentence end *inside* a run stays on its
# word ("end. Next" -> "end.", "Next"); answers are short phrases, so this almost never matters,
# and a period at the end of the run is split off either way.
_WORDS = NLTKWordTokenizer()


def _clean(text: str) -> str:
    return "".join(c for c in str(text).lower().strip() if c not in PUNCTUATION)


def segments(text: str) -> List[str]:
    """Mixed segmentation of `text` after lowercasing, stripping and deleting the punctuation."""
    out, run = [], []
    for char in _clean(text):
        if _CJK.match(char):
            if run:
                out.extend(_WORDS.tokenize("".join(run)))
                run = []
            out.append(char)
        else:
            run.append(char)
    if run:
        out.extend(_WORDS.tokenize("".join(run)))
    return out


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest contiguous run of segments present in both lists."""
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def exact_match(prediction: str, gold: str) -> int:
    return int(_clean(prediction) == _clean(gold))


def f1(prediction: str, gold: str) -> float:
    pred, ref = segments(prediction), segments(gold)
    same = longest_common_run(ref, pred)
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def evaluate(gold: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> Dict:
    """{"exact_match", "f1"} in percent over every question of `gold`; missing predictions score 0 (counted)."""
    return average_over_questions(gold, predictions, exact_match, f1)
