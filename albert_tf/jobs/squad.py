"""run_squad.py's task family: SQuAD v1.1 / v2.0 (and SQuAD-format CMRC2018) on the runner.

What differs from other families: both json files validated question by question, sliding windows
with max context, the span / XLNet-style / CLS-null heads, n-best decoding with the null threshold,
the official metrics (F1 is the main one), `squad_model/` (a model directory: TF1 weights, config,
tokenizer, task.json with the head settings and the v2 null threshold; reusable as `--init_checkpoint`),
`predictions.json`, `nbest_predictions.json`, `null_odds.json` (v2) and the SQuAD export.
"""

import math
import os
from typing import Dict, Optional

from absl import logging

from albert_tf import export, filesystem, model_directory
from albert_tf.checkpoints import load_weights
from albert_tf.jobs import runner
from albert_tf.jobs.runner import need
from albert_tf.jobs.settings import SquadSettings
from albert_tf.squad import datasets, decoding, evaluation, feature_cache, features, modeling, reading, scoring
from albert_tf.training import artifacts, settings_checks

MODEL_DIR = "squad_model"
NULL_WARNING_FRACTION = 0.95
METRIC_NAMES = {"squad": "official SQuAD metric", "cmrc2018": "official CMRC2018 metric"}


def saved_model_directory(init_checkpoint: Optional[str]) -> Optional[model_directory.ModelDirectory]:
    """The fine-tuned SQuAD model directory `init_checkpoint` names, or None (a pretrained checkpoint,
    or a model directory of another task, whose encoder alone is used)."""
    found = model_directory.model_directory_of(init_checkpoint)
    if found is None:
        return None
    saved = model_directory.read_model_directory(found)
    return saved if saved.kind == model_directory.SQUAD else None


def saved_head(init_checkpoint: Optional[str]) -> Optional[Dict]:
    """The task record (head settings, null threshold) of a fine-tuned SQuAD model directory, or None."""
    saved = saved_model_directory(init_checkpoint)
    return None if saved is None else saved.task


def task_record(s: SquadSettings, null_threshold: Optional[float]) -> Dict:
    return model_directory.squad_task(version=s.version, head=s.head, max_seq_length=s.max_seq_length,
                                      doc_stride=s.doc_stride, max_query_length=s.max_query_length,
                                      start_n_top=s.start_n_top, end_n_top=s.end_n_top,
                                      null_threshold=null_threshold)


def save_squad_model(model, directory: str, tokenizer, s: SquadSettings, null_threshold: Optional[float]):
    """The SQuAD model as a model directory (encoder + head under the official TF1 names, config,
    tokenizer, task.json with the head settings and the null threshold), swapped in whole."""
    return model_directory.save_model_directory(directory, model, tokenizer, task_record(s, null_threshold))


def write_outputs(directory: str, decoded: decoding.Decoded, version: str):
    artifacts.write_json(os.path.join(directory, "predictions.json"), decoded.predictions)
    artifacts.write_json(os.path.join(directory, "nbest_predictions.json"), decoded.nbest)
    if version == "2.0":
        artifacts.write_json(os.path.join(directory, "null_odds.json"), decoded.null_odds)


def null_warning(predictions: Dict[str, str], where: str) -> Optional[str]:
    fraction = decoding.null_fraction(predictions)
    if len(predictions) >= 20 and fraction >= NULL_WARNING_FRACTION:
        return (f"{where}: {100 * fraction:.1f}% of {len(predictions)} questions are predicted 'no answer': check "
                "that --init_checkpoint loaded (see the load report), the null threshold and the training length")
    return None


def usable_threshold(results: Dict, null_odds: Dict[str, float]) -> float:
    """The threshold to predict with: the official best_f1_thresh, except when answering nothing is best.

    The official search reports 0.0 when no threshold beats "every question is no-answer"; applying
    0.0 would not give that score, so we return a threshold below every null score instead.
    """
    if results["best_f1"] > results.get("NoAns_total", 0) * 100.0 / results["total"] or not null_odds:
        return float(results["best_f1_thresh"])
    return float(min(null_odds.values()) - 1.0)


class SquadFamily(runner.TaskFamily):
    kind = "SQuAD model"

    def __init__(self, s: SquadSettings):
        super().__init__(s)
        self.train = self.predict_data = None  # (examples, report[, windows])
        self.saved_head = None
        self.null_threshold = 0.0  # of the model being trained / evaluated
        self.metric = "squad"      # chosen from the data and the tokenizer (`scoring.choose_metric`)

    def check_settings(self):
        s = self.s
        need(s.version in reading.VERSIONS, "version", f"{s.version!r} must be one of {', '.join(reading.VERSIONS)}")
        need(not s.do_train or s.train_file, "train_file", "required with --do_train")
        need(not (s.do_predict or s.do_eval or s.eval_every_steps) or s.predict_file, "predict_file",
             "required with --do_predict / --do_eval")
        need(s.eval_metric in scoring.METRICS, "eval_metric", f"must be one of {', '.join(scoring.METRICS)}")
        need(s.eval_metric != "cmrc2018" or s.version == "1.1", "eval_metric",
             "cmrc2018 needs --version=1.1 (CMRC2018 has no unanswerable questions)")
        need(s.squad_head in ("auto",) + modeling.HEADS, "squad_head", f"must be auto or one of {modeling.HEADS}")
        need(s.version == "2.0" or s.head == "span", "squad_head", f"{s.head} is a v2 head; SQuAD 1.1 uses 'span'")
        features.check_lengths(s.max_seq_length, s.doc_stride, s.max_query_length)
        need(s.max_seq_length >= max(s.start_n_top, s.end_n_top), "start_n_top", "must not exceed --max_seq_length")
        settings_checks.at_least(s, 1, "n_best_size", "max_answer_length", "start_n_top", "end_n_top")
        for flag in ("train_file", "predict_file"):
            path = getattr(s, flag)
            need(path is None or filesystem.isfile(path), flag, f"{path} not found")

    def read(self):
        s = self.s
        if s.do_train:
            self.train = reading.read_squad(s.train_file, s.version, training=True)
        if s.predict_file and (s.do_predict or s.do_eval or s.eval_every_steps):
            self.predict_data = reading.read_squad(s.predict_file, s.version, training=False)
        saved = saved_model_directory(s.init_checkpoint)
        head = None if saved is None else saved.task
        if head is not None:
            need(head["version"] == s.version, "version", f"the model in {s.init_checkpoint} was fine-tuned for "
                 f"SQuAD {head['version']}")
            need(s.squad_head in ("auto", head["head"]), "squad_head",
                 f"the model in {s.init_checkpoint} has the {head['head']!r} head")
            s.squad_head = head["head"]
            self.null_threshold = head.get("null_threshold") or 0.0
        if s.null_score_diff_threshold is not None:
            self.null_threshold = s.null_score_diff_threshold
        self.saved_head = saved

    def check_with_tokenizer(self):
        s = self.s
        if self.predict_data is not None and (s.do_eval or s.eval_every_steps):
            examples = self.predict_data[0]
            self.metric, why = scoring.choose_metric(s.eval_metric, s.version, self.tokenizer,
                                                     [e.context for e in examples])
            logging.info("evaluation metric: %s (%s)", METRIC_NAMES[self.metric], why)
            message = scoring.long_answer_warning(examples, self.tokenizer, s.max_answer_length, s.predict_file)
            if message:
                logging.warning("%s", message)

    def prepare(self, cache_dir: str):
        s = self.s

        def windows(read, path, training):
            examples, report = read
            return examples, report, feature_cache.cached_features(
                cache_dir, path, examples, self.tokenizer, s.max_seq_length, s.doc_stride, s.max_query_length,
                s.version, training)
        if self.train is not None:
            self.train = windows(self.train, s.train_file, True)
        if self.predict_data is not None:
            self.predict_data = windows(self.predict_data, s.predict_file, False)

    def num_train_examples(self) -> int:
        return len(self.train[2])

    # --- model ---------------------------------------------------------------------------------
    def build_model(self, run: runner.SeedRun):
        s = self.s
        static = s.max_seq_length if s.static else None
        run.model = run.weights_model = modeling.build_squad_model(self.config, s.head, static, s.start_n_top,
                                                                   s.end_n_top)
        run.null_threshold = self.null_threshold

    def load_initial_weights(self, run: runner.SeedRun):
        s = self.s
        if self.saved_head is not None:
            report = model_directory.load_model_weights(run.model, self.saved_head)
            logging.info("loaded the fine-tuned SQuAD model from %s (head %s, null threshold %.4f): %s",
                         s.init_checkpoint, s.head, run.null_threshold, report.summary())
        elif model_directory.model_directory_of(s.init_checkpoint):
            saved = model_directory.read_model_directory(model_directory.model_directory_of(s.init_checkpoint))
            report = model_directory.load_encoder_weights(run.model, saved)
            logging.info("initialized the encoder from --init_checkpoint=%s (a %s model: its head is not used, the "
                         "SQuAD head is newly initialized): %s", s.init_checkpoint, saved.kind, report.summary())
        elif s.init_checkpoint:
            report = load_weights(run.model, s.init_checkpoint, verbose=False)
            logging.info("initialized the encoder from --init_checkpoint=%s: %s", s.init_checkpoint, report.summary())
        else:
            logging.warning("no --init_checkpoint: fine-tuning from RANDOM weights (expect F1 near 0)")

    def compile_losses(self, run: runner.SeedRun) -> Dict:
        loss, loss_weights = run.model.loss_and_weights()
        return {"loss": loss, "loss_weights": loss_weights}

    def train_dataset(self, run: runner.SeedRun):
        return datasets.train_dataset(self.train[2], self.s.train_batch_size, run.seed, self.s.head, self.s.static)

    def evaluates_during_training(self) -> bool:
        return bool(self.s.eval_every_steps and self.s.predict_file)

    # --- prediction and evaluation --------------------------------------------------------------
    def predict(self, run: runner.SeedRun, threshold: Optional[float] = None) -> decoding.Decoded:
        s = self.s
        examples, _, feats = self.predict_data
        outputs = datasets.predict_outputs(run.model, feats, s.predict_batch_size, s.static)
        settings = decoding.DecodeSettings(s.version, s.n_best_size, s.max_answer_length,
                                           run.null_threshold if threshold is None else threshold)
        return decoding.decode(examples, feats, outputs, settings)

    def score(self, run: runner.SeedRun, decoded: decoding.Decoded) -> Dict:
        """Official metrics; v2 also searches the F1-optimal null threshold and re-predicts with it."""
        gold = evaluation.gold_answers_from_examples(self.predict_data[0])
        if self.s.version == "1.1":
            return scoring.score_v1(self.metric, gold, decoded.predictions)
        results = evaluation.evaluate_v2(gold, decoded.predictions, decoded.null_odds, na_prob_thresh=math.inf)
        best = usable_threshold(results, decoded.null_odds)
        if best != run.null_threshold:
            decoded.predictions = decoding.repredict_with_threshold(decoded, best)
            results.update(evaluation.evaluate_v2(gold, decoded.predictions, na_prob_thresh=math.inf))
        results["null_threshold_used"] = run.null_threshold = best
        results["null_fraction"] = decoding.null_fraction(decoded.predictions)
        results["metric"] = "squad"
        return results

    def evaluate(self, run: runner.SeedRun, step: int):
        results = self.score(run, self.predict(run))
        results["global_step"] = step
        return results, {"metric": "f1", "value": results["f1"], "f1": results["f1"],
                         "null_threshold": run.null_threshold}

    def main_result(self, eval_results: Dict):
        return "predict_file", "f1", eval_results["f1"]

    def summary(self, results: Dict) -> str:
        return (f"({METRIC_NAMES[self.metric]}) f1={results['f1']:.3f} "
                f"exact={results.get('exact_match', results.get('exact', float('nan'))):.3f}")

    def save_best(self, run: runner.SeedRun, step: int, record: Dict) -> Dict:
        directory = os.path.join(run.output_dir, MODEL_DIR)
        save_squad_model(run.model, directory, self.tokenizer, self.s, run.null_threshold)
        return {"path": directory}

    def restore_best(self, run: runner.SeedRun):
        model_directory.load_model_weights(run.model, model_directory.read_model_directory(run.best["path"]))
        run.null_threshold = run.best["null_threshold"]

    # --- after training ---------------------------------------------------------------------
    def finish(self, run: runner.SeedRun) -> Dict:
        s, result = self.s, {}
        model_dir = os.path.join(run.output_dir, MODEL_DIR)
        if s.do_train and run.best is None:
            save_squad_model(run.model, model_dir, self.tokenizer, s, run.null_threshold)
        if self.predict_data is None or not (s.do_predict or s.do_eval):
            return result
        decoded = self.predict(run)
        if s.do_eval:
            results = self.score(run, decoded)
            results["windows"] = len(self.predict_data[2])
            if s.do_train or self.saved_head is None:
                save_squad_model(run.model, model_dir, self.tokenizer, s, run.null_threshold)
            artifacts.write_json(os.path.join(run.output_dir, "eval_results.json"), results)
            logging.info("eval (%s): %s", METRIC_NAMES[results["metric"]],
                         {k: round(v, 4) for k, v in results.items() if isinstance(v, float)})
            result["eval"] = results
        write_outputs(run.output_dir, decoded, s.version)
        if s.version == "2.0":
            message = null_warning(decoded.predictions, s.predict_file)
            if message:
                logging.warning("%s", message)
                result["warning"] = message
        result["predictions"] = os.path.join(run.output_dir, "predictions.json")
        return result

    def export(self, run: runner.SeedRun, export_dir: str):
        s = self.s
        info = export.export_squad(run.model, self.tokenizer, export_dir, max_seq_length=s.max_seq_length,
                                   max_query_length=s.max_query_length, head=s.head, version=s.version,
                                   max_answer_length=s.max_answer_length, null_threshold=run.null_threshold,
                                   start_n_top=s.start_n_top, end_n_top=s.end_n_top)
        logging.info("exported the model to %s (reload check: max |diff| %.2e)", export_dir,
                     info["max_abs_difference"])


def run(s: SquadSettings) -> Dict:
    """The whole job; returns {"runs": [per-seed results], "seeds": summary of F1}."""
    return runner.run(SquadFamily(s))
