"""Examples → token ids: `[CLS] a [SEP] (b [SEP])`, or one such sequence per choice.

Single/pair examples keep their real length (no padding): batches are padded later, to the
longest row of a length bucket. Multiple-choice examples are padded to `max_seq_length` per
choice and flattened to `[num_choices * max_seq_length]`, so one record is one question.
"""

from typing import Dict, List

from albert_tf.finetuning.examples import Example
from albert_tf.model_inputs import INPUT_TYPE_IDS, INPUT_WORD_IDS
from albert_tf.tokenization import packing


def _packed(tokenizer, ids_a, ids_b, max_seq_length):
    return packing.pack(ids_a, ids_b, max_seq_length=max_seq_length, cls_id=tokenizer.cls_id,
                        sep_id=tokenizer.sep_id, pad_id=tokenizer.pad_id)


def encode_example(example: Example, task, tokenizer, max_seq_length: int, max_qa_length: int = 128) -> Dict:
    """Model inputs of one example plus its target (0 for unlabelled rows) and weight 1."""
    label = task.label_id(example.label) if example.label is not None else (0.0 if task.is_regression else 0)
    ids_a = tokenizer.encode(example.text_a)
    if task.is_multiple_choice:
        word_ids: List[int] = []
        type_ids: List[int] = []
        for choice in example.choices:
            # The reference keeps the question+option short so the article gets the rest.
            packed = _packed(tokenizer, ids_a, tokenizer.encode(choice)[:max_qa_length], max_seq_length)
            word_ids += packed.input_ids
            type_ids += packed.segment_ids
        return {INPUT_WORD_IDS: word_ids, INPUT_TYPE_IDS: type_ids, "label": label, "weight": 1.0}
    ids_b = tokenizer.encode(example.text_b) if example.text_b is not None else None
    packed = _packed(tokenizer, ids_a, ids_b, max_seq_length)
    length = sum(packed.input_mask)
    return {INPUT_WORD_IDS: packed.input_ids[:length], INPUT_TYPE_IDS: packed.segment_ids[:length],
            "label": label, "weight": 1.0}
