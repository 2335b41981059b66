"""The names of the models' inputs and of the records that feed them, defined once.

Models take int32 inputs named as TF Hub text encoders name them. Pretraining records keep the
names of the original `create_pretraining_data.py`, so shards stay readable by (and from) the
original code; `RECORD_TO_MODEL` renames them when a batch is read.

A module of plain strings at the package's top, not under `modeling/`: the data tool's worker
processes write records with these names and must not import Keras or TensorFlow.
"""

# The encoder's inputs.
INPUT_WORD_IDS = "input_word_ids"
INPUT_MASK = "input_mask"  # 1 = real token, 0 = padding
INPUT_TYPE_IDS = "input_type_ids"  # segment A = 0, segment B = 1
INPUT_NAMES = (INPUT_WORD_IDS, INPUT_MASK, INPUT_TYPE_IDS)

# Pretraining: the MLM head's gather positions (a model input), its targets and the SOP label.
MASKED_LM_POSITIONS = "masked_lm_positions"
MASKED_LM_IDS = "masked_lm_ids"
MASKED_LM_WEIGHTS = "masked_lm_weights"  # 1.0 for a real prediction, 0.0 for padding
SENTENCE_ORDER_LABEL = "sentence_order_label"
PRETRAINER_INPUTS = INPUT_NAMES + (MASKED_LM_POSITIONS,)

# SQuAD: positions that cannot hold an answer, and the gold start the XLNet-style head is trained on.
P_MASK = "p_mask"
START_POSITIONS = "start_positions"

# Pretraining records (TFRecord feature names).
RECORD_INPUT_IDS = "input_ids"
RECORD_SEGMENT_IDS = "segment_ids"
RECORD_ORDER_LABEL = "next_sentence_labels"  # [1]: the SOP (or NSP) label
TOKEN_BOUNDARY = "token_boundary"  # 1 where a word starts (unmasked datasets, for dynamic masking)
RECORD_TO_MODEL = {RECORD_INPUT_IDS: INPUT_WORD_IDS, RECORD_SEGMENT_IDS: INPUT_TYPE_IDS,
                   RECORD_ORDER_LABEL: SENTENCE_ORDER_LABEL}
