"""run_ner.py's task family: named-entity recognition (CoNLL column files, CLUENER json lines) on the runner.

What differs from other families: the files are read by `ner.reading` (every sentence checked, errors
name `file:line` before any work), sentences become windows of pieces with the tag on each word's first
piece (`ner.features`), the model is `AlbertTokenClassifier` trained with the cross-entropy of the tagged
positions only, evaluation merges the windows back into words and scores entities with seqeval
(`ner.metrics`; the main metric is the micro F1), the best model is a model directory (`ner_model/`,
task.json kind `token_classification` with the label list), and predictions are written as CoNLL
columns and, for CLUENER input, the CLUENER submission json.
"""

import os
import warnings
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf import model_directory
from albert_tf.checkpoints import load_weights
from albert_tf.export import ner_serving
from albert_tf.finetuning.datasets import bucket_lengths, shuffled_epochs
from albert_tf.jobs import runner
from albert_tf.jobs.runner import need
from albert_tf.jobs.settings import NerSettings
from albert_tf.model_inputs import INPUT_MASK, INPUT_NAMES, INPUT_TYPE_IDS, INPUT_WORD_IDS
from albert_tf.modeling import AlbertEncoder, AlbertTokenClassifier
from albert_tf.modeling.token_losses import IGNORE_LABEL, masked_token_cross_entropy
from albert_tf.ner import features, metrics, outputs, reading
from albert_tf.training import settings_checks

MODEL_DIR = "ner_model"
TASK_NAME = "ner"
EVAL_PREDICTIONS = "eval_predictions.conll"
PREDICTIONS = "predictions.conll"
CLUENER_SUBMISSION = "cluener_predict.json"

# One value on both sides of the loss: the windows' ignored positions are the loss's ignored positions.
assert features.IGNORE == IGNORE_LABEL


def is_json_lines(path: str) -> bool:
    """Whether a NER file is CLUENER json lines, by the reader's own rule (`read_ner_file`: a first
    non-blank line that parses as a json object), so the outputs follow the format that was read."""
    first = reading._first_content_line(path)  # pylint: disable=protected-access
    return first is not None and reading._is_json_object(first[1])  # pylint: disable=protected-access


def token_classification_task(labels: List[str], s: NerSettings) -> Dict:
    """The task.json record of a NER model."""
    return {"kind": model_directory.TOKEN_CLASSIFICATION, "task_name": TASK_NAME, "labels": list(labels),
            "max_seq_length": s.max_seq_length, "doc_stride": s.doc_stride, "tag_scheme": "IOB2"}


class Split:
    """The sentences of one file, their windows, and the model inputs as arrays."""

    def __init__(self, path: str, sentences: List[reading.NerSentence]):
        self.path, self.sentences = path, sentences
        self.cluener = is_json_lines(path)
        self.windows: List[features.NerWindow] = []

    def arrays(self, max_seq_length: int):
        n = len(self.windows)
        out = {name: np.zeros((n, max_seq_length), np.int32) for name in INPUT_NAMES}
        labels = np.full((n, max_seq_length), IGNORE_LABEL, np.int32)
        for i, w in enumerate(self.windows):
            width = len(w.input_ids)
            out[INPUT_WORD_IDS][i, :width] = w.input_ids
            out[INPUT_MASK][i, :width] = w.input_mask
            out[INPUT_TYPE_IDS][i, :width] = w.segment_ids
            labels[i, :width] = w.label_ids
        return out, labels


class NerFamily(runner.TaskFamily):
    kind = "token classifier"

    def __init__(self, s: NerSettings):
        super().__init__(s)
        self.splits: Dict[str, Split] = {}
        self.labels: Optional[List[str]] = None
        self.saved: Optional[model_directory.ModelDirectory] = None  # a fine-tuned --init_checkpoint

    # --- checks and data (nothing written) --------------------------------------------------
    def check_settings(self):
        s = self.s
        need(not s.do_train or s.train_file, "train_file", "required with --do_train")
        need(not (s.do_eval or s.eval_every_steps) or s.eval_file, "eval_file",
             "required with --do_eval / --eval_every_steps")
        need(not s.do_predict or s.predict_file, "predict_file", "required with --do_predict")
        for flag in ("train_file", "eval_file", "predict_file"):
            settings_checks.existing_file(flag, getattr(s, flag))
        need(s.max_seq_length >= 3, "max_seq_length", f"{s.max_seq_length} leaves no room for [CLS] a piece [SEP]")
        need(1 <= s.doc_stride <= s.max_seq_length - 2, "doc_stride",
             f"{s.doc_stride} must be in [1, max_seq_length - 2 = {s.max_seq_length - 2}]")
        settings_checks.need(0 <= s.classifier_dropout < 1, "classifier_dropout", s.classifier_dropout,
                             "must be in [0, 1)")

    def check_init_checkpoint(self):
        s = self.s
        if model_directory.is_model_directory(s.init_checkpoint):
            self.saved = model_directory.read_model_directory(s.init_checkpoint)
        else:
            super().check_init_checkpoint()

    def read(self):
        """Every sentence of every file the run needs; tag errors name file:line before any work."""
        s = self.s
        wanted = []
        if s.do_train:
            wanted.append(("train", s.train_file, True))
        if s.do_eval or s.eval_every_steps:
            wanted.append(("eval", s.eval_file, True))
        if s.do_predict:
            wanted.append(("predict", s.predict_file, False))
        for split, path, labelled in wanted:
            sentences = reading.read_ner_file(path, scheme=s.label_scheme, labelled=labelled,
                                              nested=s.nested_entities)
            logging.info("%s: %d sentences from %s", split, len(sentences), path)
            self.splits[split] = Split(path, sentences)
        self.labels = self._label_list()

    def _label_list(self) -> List[str]:
        s = self.s
        if self.saved is not None and self.saved.kind == model_directory.TOKEN_CLASSIFICATION:
            labels = self.saved.labels
            source = f"--init_checkpoint={s.init_checkpoint} (its task.json labels)"
        elif "train" in self.splits:
            labels = features.label_list(self.splits["train"].sentences)
            source = f"--train_file={s.train_file}"
        else:
            raise ValueError(f"--init_checkpoint: {s.init_checkpoint or 'none given'} is not a NER model directory "
                             "(task.json kind token_classification), so there is no label list: give a model "
                             "fine-tuned by run_ner.py, or --do_train with --train_file")
        known = set(labels)
        for split, data in self.splits.items():
            if split == "predict":
                continue
            for sentence in data.sentences:
                for position, tag in enumerate(sentence.tags or ()):
                    need(tag in known, f"{split}_file", f"{sentence.source}: tag {tag!r} of word {position + 1} "
                         f"({sentence.words[position]!r}) is not among the {len(labels)} labels of {source}")
        return list(labels)

    def prepare(self, cache_dir: str):
        s = self.s
        for split, data in self.splits.items():
            data.windows = features.make_windows(data.sentences, self.tokenizer, self.labels, s.max_seq_length,
                                                 s.doc_stride)
            logging.info("%s: %d windows of %d pieces for %d sentences", split, len(data.windows),
                         s.max_seq_length, len(data.sentences))

    def num_train_examples(self) -> int:
        return len(self.splits["train"].windows)

    # --- model ---------------------------------------------------------------------------------
    def build_model(self, run: runner.SeedRun):
        # The tagger never reads the encoder's pooler, so Keras warns (misleadingly: "did you forget to
        # provide a loss?") that it gets no gradient; here that is expected.
        warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \['pooler/")
        static = self.s.max_seq_length if self.s.static else None
        run.model = run.weights_model = AlbertTokenClassifier(
            AlbertEncoder(self.config, sequence_length=static), len(self.labels),
            dropout_rate=self.s.classifier_dropout)
        run.model({name: np.zeros((1, static or 2), np.int32) for name in INPUT_NAMES})

    def load_initial_weights(self, run: runner.SeedRun):
        s = self.s
        if self.saved is not None:
            source = self.saved.checkpoint_prefix
        elif s.init_checkpoint:
            source = s.init_checkpoint
        else:
            # Trained from random weights a tagger still learns its training file's names (tiny models
            # reach CLUENER dev F1 0.43, CoNLL-2003 0.68, docs/ner.md); untrained it tags nothing.
            logging.warning("no --init_checkpoint: %s RANDOM weights (%s)", runner.purpose(s).lower(),
                            "it learns only from the training file" if s.do_train else "expect an entity F1 near 0")
            return
        report = load_weights(run.model, source, verbose=False)
        logging.info("%s from --init_checkpoint=%s: %s", runner.purpose(s), s.init_checkpoint, report.summary())

    def compile_losses(self, run: runner.SeedRun) -> Dict:
        return {"loss": masked_token_cross_entropy}

    def train_dataset(self, run: runner.SeedRun):
        """Endless shuffled batches of windows, each pass shuffled on its own (`shuffled_epochs`: resumable
        by skipping); without static shapes, windows are batched with others of similar length."""
        s = self.s
        inputs, labels = self.splits["train"].arrays(s.max_seq_length)
        lengths = inputs[INPUT_MASK].sum(axis=1)
        data = shuffled_epochs(tf.data.Dataset.from_tensor_slices((inputs, labels, lengths)),
                               min(20000, len(labels)), run.seed)
        if s.static:
            return data.map(lambda x, y, n: (x, y)).batch(s.train_batch_size, drop_remainder=True).prefetch(2)
        data = data.map(lambda x, y, n: ({k: v[:n] for k, v in x.items()}, y[:n]))
        buckets = bucket_lengths(s.max_seq_length)
        data = data.bucket_by_sequence_length(
            lambda x, y: tf.shape(y)[0], bucket_boundaries=[length + 1 for length in buckets],
            bucket_batch_sizes=[s.train_batch_size] * (len(buckets) + 1),
            padding_values=({name: 0 for name in INPUT_NAMES}, IGNORE_LABEL), pad_to_bucket_boundary=True,
            drop_remainder=True)
        return data.prefetch(2)

    def evaluates_during_training(self) -> bool:
        return bool(self.s.eval_every_steps and self.s.eval_file)

    # --- prediction and evaluation --------------------------------------------------------------
    def logits(self, run: runner.SeedRun, split: Split) -> np.ndarray:
        """[windows, max_seq_length, labels] logits, batch by batch, each batch cut to its longest window."""
        s = self.s
        inputs, _ = split.arrays(s.max_seq_length)
        out = np.zeros((len(split.windows), s.max_seq_length, len(self.labels)), np.float32)
        for start in range(0, len(split.windows), s.predict_batch_size):
            rows = slice(start, start + s.predict_batch_size)
            width = s.max_seq_length if s.static else max(int(inputs[INPUT_MASK][rows].sum(axis=1).max()), 1)
            batch = {name: value[rows, :width] for name, value in inputs.items()}
            out[rows, :width] = np.asarray(run.model(batch, training=False), np.float32)
        return out

    def predicted_words(self, run: runner.SeedRun, split: Split):
        """Per sentence, per word: (IOB2 tag, probability)."""
        return features.merge_windows(split.sentences, split.windows, self.logits(run, split), self.labels)

    def score(self, split: Split, predicted) -> Dict:
        gold = [list(sentence.tags) for sentence in split.sentences]
        tags = [[tag for tag, _ in words] for words in predicted]
        results = {"metric": "seqeval entity-level, strict IOB2 (micro)", **metrics.entity_scores(gold, tags),
                   "sentences": len(split.sentences), "windows": len(split.windows)}
        if split.cluener:
            gold_spans = [metrics.char_spans(sentence, sentence.tags) for sentence in split.sentences]
            predicted_spans = [metrics.char_spans(sentence, t) for sentence, t in zip(split.sentences, tags)]
            results["cluener_span"] = metrics.span_scores(gold_spans, predicted_spans)
        return results

    def evaluate(self, run: runner.SeedRun, step: int):
        results = self.score(self.splits["eval"], self.predicted_words(run, self.splits["eval"]))
        results["global_step"] = step
        return results, {"split": "eval_file", "metric": "f1", "value": results["f1"]}

    def main_result(self, eval_results: Dict):
        return "eval_file", "f1", eval_results["f1"]

    def summary(self, results: Dict) -> str:
        return (f"entity f1={results['f1']:.4f} precision={results['precision']:.4f} "
                f"recall={results['recall']:.4f} ({results['correct']}/{results['gold_entities']} gold entities)")

    def save_model(self, run: runner.SeedRun, step: Optional[int] = None) -> str:
        directory = os.path.join(run.output_dir, MODEL_DIR)
        model_directory.save_model_directory(directory, run.weights_model, self.tokenizer,
                                             token_classification_task(self.labels, self.s), global_step=step)
        return directory

    def save_best(self, run: runner.SeedRun, step: int, record: Dict) -> Dict:
        return {"path": self.save_model(run, step)}

    def restore_best(self, run: runner.SeedRun):
        load_weights(run.weights_model, model_directory.read_model_directory(run.best["path"]).checkpoint_prefix,
                     verbose=False)

    # --- after training ---------------------------------------------------------------------
    def finish(self, run: runner.SeedRun) -> Dict:
        s, result = self.s, {}
        if s.do_train and run.best is None:
            self.save_model(run, int(run.model.optimizer.iterations.numpy()))
        if s.do_train:
            result["model_dir"] = os.path.join(run.output_dir, MODEL_DIR)
        if s.do_eval:
            split = self.splits["eval"]
            predicted = self.predicted_words(run, split)
            results = self.score(split, predicted)
            results["global_step"] = int(run.model.optimizer.iterations.numpy())
            result["eval"] = self.keep_final_results(run, results)
            outputs.write_conll_predictions(os.path.join(run.output_dir, EVAL_PREDICTIONS), split.sentences,
                                            predicted)
        if s.do_predict:
            result["predictions"] = self.predict(run)
        return result

    def predict(self, run: runner.SeedRun) -> List[str]:
        split = self.splits["predict"]
        predicted = self.predicted_words(run, split)
        written = [os.path.join(run.output_dir, PREDICTIONS)]
        outputs.write_conll_predictions(written[0], split.sentences, predicted)
        if split.cluener:
            written.append(os.path.join(run.output_dir, CLUENER_SUBMISSION))
            outputs.write_cluener_submission(written[-1], split.sentences, predicted)
        logging.info("tagged %d sentences of %s: %s", len(split.sentences), split.path, ", ".join(written))
        return written

    def export(self, run: runner.SeedRun, export_dir: str):
        """Raw-text SavedModel of the (best) tagger, checked by a fresh-process reload on sample sentences."""
        texts = [sentence.text for data in self.splits.values() for sentence in data.sentences][:16]
        info = ner_serving.export_ner(run.weights_model, self.tokenizer, export_dir, labels=self.labels,
                                      max_seq_length=self.s.max_seq_length, doc_stride=self.s.doc_stride,
                                      check_texts=texts)
        logging.info("exported the model to %s (reload check: max |diff| %.2e on %d sentences + samples)",
                     export_dir, info["max_abs_difference"], len(texts))


def run(s: NerSettings) -> Dict:
    """The whole job; returns {"runs": [per-seed results], "seeds": summary of the entity F1}."""
    return runner.run(NerFamily(s))
