"""GLUE tasks (data_dir/<TASK>/{train,dev,test}.tsv as the GLUE download script lays them out)."""

from albert_tf.finetuning import metrics as m
from albert_tf.finetuning.tasks.base import TsvTask, register

BINARY = ("0", "1")
NLI3 = ("contradiction", "entailment", "neutral")
NLI2 = ("entailment", "not_entailment")


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
    predict_splits = {"CoLA": "test"}


@register
class SST2(TsvTask):
    name = "SST-2"
    labels = BINARY
    text_columns = (0,)
    label_column = 1
    label_header = "label"
    test_text_columns = (1,)
    predict_splits = {"SST-2": "test"}


@register
class MRPC(TsvTask):
    """Paraphrase: Quality, #1 ID, #2 ID, #1 String, #2 String (the header starts with a BOM)."""
    name = "MRPC"
    labels = BINARY
    metric_names = (m.ACCURACY, m.F1)
    text_columns = (3, 4)
    label_column = 0
    label_header = "Quality"
    test_text_columns = (3, 4)
    predict_splits = {"MRPC": "test"}


@register
class STSB(TsvTask):
    """Similarity score 0–5 in the last column: one regression output, MSE loss."""
    name = "STS-B"
    is_regression = True
    metric_names = (m.PEARSON, m.SPEARMAN)
    main_metric = m.PEARSON
    text_columns = (7, 8)
    label_column = -1
    label_header = "score"
    test_text_columns = (7, 8)
    predict_splits = {"STS-B": "test"}


@register
class QQP(TsvTask):
    """id, qid1, qid2, question1, question2, is_duplicate; test: id, question1, question2."""
    name = "QQP"
    labels = BINARY
    metric_names = (m.ACCURACY, m.F1)
    text_columns = (3, 4)
    label_column = 5
    label_header = "is_duplicate"
    test_text_columns = (1, 2)
    predict_splits = {"QQP": "test"}


@register
class MNLI(TsvTask):
    """Sentences in columns 8, 9, gold label last; matched and mismatched dev/test sets."""
    name = "MNLI"
    labels = NLI3
    text_columns = (8, 9)
    label_column = -1
    label_header = "gold_label"
    test_text_columns = (8, 9)
    split_files = {"train": "train.tsv", "dev_matched": "dev_matched.tsv", "dev_mismatched": "dev_mismatched.tsv",
                   "test_matched": "test_matched.tsv", "test_mismatched": "test_mismatched.tsv"}
    eval_splits = ("dev_matched", "dev_mismatched")
    predict_splits = {"MNLI-m": "test_matched", "MNLI-mm": "test_mismatched"}


@register
class AX(TsvTask):
    """GLUE diagnostic set: no training data; predicted with an MNLI model (--init_checkpoint)."""
    name = "AX"
    labels = NLI3
    test_text_columns = (1, 2)
    split_files = {"diagnostic": "diagnostic.tsv"}
    train_split = None
    eval_splits = ()
    predict_splits = {"AX": "diagnostic"}


class _SentencePairNLI(TsvTask):
    text_columns = (1, 2)
    label_column = -1
    label_header = "label"
    test_text_columns = (1, 2)


@register
class QNLI(_SentencePairNLI):
    name = "QNLI"
    labels = NLI2
    predict_splits = {"QNLI": "test"}


@register
class RTE(_SentencePairNLI):
    name = "RTE"
    labels = NLI2
    predict_splits = {"RTE": "test"}


@register
class WNLI(_SentencePairNLI):
    name = "WNLI"
    labels = BINARY
    predict_splits = {"WNLI": "test"}
