"""GLUE tasks (data_dir/<TASK>/{train,dev,test}.tsv as the GLUE download script lays them out).

Header files are matched by column name, so both the GLUE release and the layout the Hugging Face
datasets library exports (`sentence1 sentence2 label idx`, integer labels; `-1` on test rows) are
read; `label_aliases` map that library's label numbers to the GLUE label names where they differ.
"""

from albert_tf.finetuning import metrics as m
from albert_tf.finetuning.tasks.base import TsvTask, register

BINARY = ("0", "1")
NLI3 = ("contradiction", "entailment", "neutral")
NLI2 = ("entailment", "not_entailment")
# The Hugging Face datasets numbering of the NLI labels (glue/mnli, glue/ax, glue/rte, glue/qnli).
HF_NLI3 = {"0": "entailment", "1": "neutral", "2": "contradiction"}
HF_NLI2 = {"0": "entailment", "1": "not_entailment"}
MNLI_EXTRA = ("promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
              "sentence2_parse", "label1", "label2", "label3", "label4", "label5")


@register
class CoLA(TsvTask):
    """Acceptability; train/dev have no header: source, label, original label, sentence."""
    name = "CoLA"
    labels = BINARY
    metric_names = (m.MCC, m.ACCURACY)
    main_metric = m.MCC
    has_header = False
    num_columns = 4
    text_columns = (3,)
    label_column = 1
    test_text_columns = (1,)
    text_names = (("sentence",),)
    predict_splits = {"CoLA": "test"}


@register
class SST2(TsvTask):
    name = "SST-2"
    labels = BINARY
    text_names = (("sentence",),)
    predict_splits = {"SST-2": "test"}


@register
class MRPC(TsvTask):
    """Paraphrase: Quality, #1 ID, #2 ID, #1 String, #2 String (the header starts with a BOM)."""
    name = "MRPC"
    labels = BINARY
    metric_names = (m.ACCURACY, m.F1)
    text_columns = (3, 4)
    text_names = (("#1 String", "sentence1"), ("#2 String", "sentence2"))
    label_names = ("Quality", "label")
    other_names = ("#1 ID", "#2 ID")
    predict_splits = {"MRPC": "test"}


@register
class STSB(TsvTask):
    """Similarity score 0–5 in the last column: one regression output, MSE loss."""
    name = "STS-B"
    is_regression = True
    metric_names = (m.PEARSON, m.SPEARMAN)
    main_metric = m.PEARSON
    text_columns = (7, 8)
    text_names = (("sentence1",), ("sentence2",))
    label_names = ("score", "label")
    other_names = ("genre", "filename", "year", "old_index", "source1", "source2")
    predict_splits = {"STS-B": "test"}


@register
class QQP(TsvTask):
    """id, qid1, qid2, question1, question2, is_duplicate; test: id, question1, question2."""
    name = "QQP"
    labels = BINARY
    metric_names = (m.ACCURACY, m.F1)
    text_columns = (3, 4)
    text_names = (("question1",), ("question2",))
    label_names = ("is_duplicate", "label")
    other_names = ("qid1", "qid2")
    predict_splits = {"QQP": "test"}


@register
class MNLI(TsvTask):
    """Sentences in columns 8, 9, gold label last; matched and mismatched dev/test sets."""
    name = "MNLI"
    labels = NLI3
    text_columns = (8, 9)
    text_names = (("sentence1", "premise"), ("sentence2", "hypothesis"))
    label_names = ("gold_label", "label")
    label_aliases = HF_NLI3
    other_names = MNLI_EXTRA
    split_files = {"train": "train.tsv", "dev_matched": "dev_matched.tsv", "dev_mismatched": "dev_mismatched.tsv",
                   "test_matched": "test_matched.tsv", "test_mismatched": "test_mismatched.tsv"}
    eval_splits = ("dev_matched", "dev_mismatched")
    predict_splits = {"MNLI-m": "test_matched", "MNLI-mm": "test_mismatched"}


@register
class AX(TsvTask):
    """GLUE diagnostic set: no training data; predicted with an MNLI model (--init_checkpoint)."""
    name = "AX"
    labels = NLI3
    label_aliases = HF_NLI3
    text_columns = (1, 2)
    text_names = (("sentence1", "premise"), ("sentence2", "hypothesis"))
    split_files = {"diagnostic": "diagnostic.tsv"}
    train_split = None
    eval_splits = ()
    predict_splits = {"AX": "diagnostic"}


class _SentencePairNLI(TsvTask):
    text_columns = (1, 2)
    text_names = (("sentence1",), ("sentence2",))


@register
class QNLI(_SentencePairNLI):
    name = "QNLI"
    labels = NLI2
    label_aliases = HF_NLI2
    text_names = (("question",), ("sentence",))
    predict_splits = {"QNLI": "test"}


@register
class RTE(_SentencePairNLI):
    name = "RTE"
    labels = NLI2
    label_aliases = HF_NLI2
    predict_splits = {"RTE": "test"}


@register
class WNLI(_SentencePairNLI):
    name = "WNLI"
    labels = BINARY
    predict_splits = {"WNLI": "test"}
