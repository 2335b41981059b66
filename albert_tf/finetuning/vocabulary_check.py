"""Does the tokenizer know the task's text? The unknown-token rate of every tokenized split.

A Chinese task run with an English SentencePiece model turns about half of its tokens into `<unk>`
and trains on noise without a word. The rate is counted while the split is tokenized (stored in the
feature cache's meta); above `--max_unknown_rate` the run stops before any model is built, naming the
file, the rate and the likely cause; above `WARN_RATE` it is logged as a warning, and so is a task
language that is not the one the tokenizer's kind is used for (Chinese ALBERT: WordPiece; English:
SentencePiece).
"""

from absl import logging

from albert_tf.finetuning.examples import DataError

WARN_RATE = 0.01


def unknown_rate(meta) -> float:
    return meta["unknown_tokens"] / max(meta["text_tokens"], 1)


def check_unknown_rate(task, tokenizer, path: str, meta, max_rate: float):
    """Raises DataError above `max_rate`; logs a warning above `WARN_RATE`."""
    rate = unknown_rate(meta)
    cause = _likely_cause(task, tokenizer)
    if rate <= WARN_RATE:
        if cause:  # few unknowns, but not the kind of tokenizer the task's language is pretrained with
            logging.warning("%s: %.2f%% of the tokens are unknown to the tokenizer%s", path, 100 * rate, cause)
        return rate
    message = (f"{path}: {100 * rate:.1f}% of the tokens ({meta['unknown_tokens']} of {meta['text_tokens']}) are "
               f"unknown to the tokenizer ({tokenizer.settings.type} {tokenizer.settings.vocab_file}, "
               f"{tokenizer.vocab_size} ids)" + cause)
    if rate > max_rate:
        raise DataError(f"{message}; the model would see mostly <unk>. Give the tokenizer the model was pretrained "
                        f"with, or pass --max_unknown_rate={min(1.0, round(rate + 0.05, 2))} to proceed anyway")
    logging.warning("%s", message)
    return rate


def _likely_cause(task, tokenizer) -> str:
    if task.language == "zh" and tokenizer.settings.type == "sentencepiece":
        return (f": {task.name} is a Chinese task and this is a SentencePiece model (the Chinese ALBERT models use "
                "a WordPiece vocab.txt)")
    if task.language == "en" and tokenizer.settings.type == "wordpiece":
        return (f": {task.name} is an English task and this is a WordPiece vocabulary (English ALBERT uses "
                "SentencePiece)")
    return ""
