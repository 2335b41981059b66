"""Which official metric scores a SQuAD-format run, and which gold answers it cannot reach.

SQuAD's metric splits answers on whitespace: on Chinese every answer is one token and F1 collapses
to exact match. Chinese data is scored with the CMRC2018 definitions instead (`cmrc_evaluation`);
`auto` decides from the tokenizer (a Chinese WordPiece vocabulary) or, failing that, the text of
the contexts, and `--eval_metric` can force either.
"""

from typing import Dict, Mapping, Optional, Sequence, Tuple

from albert_tf.squad import cmrc_evaluation, evaluation

METRICS = ("auto", "squad", "cmrc2018")
# A vocabulary is Chinese when this share of its entries are single CJK characters (the albert_zh
# vocab: 7,321 of 21,128 = 35%; English SentencePiece models: 0).
CHINESE_VOCAB_SHARE = 0.2
# Contexts are Chinese when this share of their non-space characters are CJK (CMRC2018 trial: 77%).
CHINESE_TEXT_SHARE = 0.5


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fa5"  # the CMRC2018 definition of a Chinese character


def cjk_share(texts: Sequence[str]) -> float:
    cjk = total = 0
    for text in texts:
        for char in text:
            if not char.isspace():
                total += 1
                cjk += _is_cjk(char)
    return cjk / total if total else 0.0


def chinese_vocabulary(tokenizer) -> bool:
    vocab = getattr(tokenizer, "vocab", None)  # WordPiece tokenizers hold their token list
    if not vocab:
        return False
    return sum(len(token) == 1 and _is_cjk(token) for token in vocab) >= CHINESE_VOCAB_SHARE * len(vocab)


def choose_metric(requested: str, version: str, tokenizer, contexts: Sequence[str]) -> Tuple[str, str]:
    """("squad" | "cmrc2018", why): the metric a run scores with."""
    if requested not in METRICS:
        raise ValueError(f"--eval_metric={requested}: must be one of {', '.join(METRICS)}")
    if requested == "cmrc2018" and version != "1.1":
        raise ValueError("--eval_metric=cmrc2018 needs --version=1.1: CMRC2018 has no unanswerable questions")
    if requested != "auto":
        return requested, f"--eval_metric={requested}"
    if version != "1.1":
        return "squad", "SQuAD 2.0 data (unanswerable questions are scored by the SQuAD 2.0 definitions)"
    if chinese_vocabulary(tokenizer):
        return "cmrc2018", "the tokenizer is a Chinese WordPiece vocabulary"
    share = cjk_share(contexts)
    if share >= CHINESE_TEXT_SHARE:
        return "cmrc2018", f"{100 * share:.0f}% of the context characters are Chinese"
    return "squad", f"English data ({100 * share:.0f}% Chinese characters in the contexts)"


def score_v1(metric: str, gold: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> Dict:
    """The chosen metric's {"exact_match", "f1", "total", "missing"} plus the metric's name."""
    if metric == "cmrc2018":
        out = cmrc_evaluation.evaluate(gold, predictions)
    else:
        out = evaluation.evaluate_v1(gold, predictions)
    out["metric"] = metric
    return out


def long_answer_warning(examples, tokenizer, max_answer_length: int, where: str) -> Optional[str]:
    """A message when gold answers are longer than `max_answer_length` tokens (the decoder never predicts them).

    Counts questions with at least one such answer, and those where every answer is (exact match is
    then out of reach). Lengths are the answer texts' own token counts.
    """
    some = every = longest = 0
    for example in examples:
        lengths = [len(tokenizer.encode(text)) for text in example.answer_texts]
        if not lengths:
            continue
        longest = max(longest, *lengths)
        over = [n > max_answer_length for n in lengths]
        some += any(over)
        every += all(over)
    if not some:
        return None
    return (f"{where}: {some} of {len(examples)} questions have a gold answer longer than --max_answer_length="
            f"{max_answer_length} tokens ({every} where every gold answer is; the longest has {longest} tokens): "
            "those answers cannot be predicted. Raise --max_answer_length (see docs/squad.md for Chinese).")
