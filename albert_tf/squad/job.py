"""run_squad.py's job: check everything, window the files once, fine-tune, predict, evaluate.

Order matters for the user: flags, both json files (every question), the model config, the
tokenizer and the length settings are checked before anything is tokenized or built.
Outputs in `output_dir`: `predictions.json`, `nbest_predictions.json`, `null_odds.json` (v2),
`eval_results.json` (official metrics, named in "metric"; v2 also the searched threshold), `squad_model/` (weights,
config, tokenizer, `squad_head.json` with the head settings and the v2 null threshold; reusable as
`--init_checkpoint`), `eval_results/step_N.json` and `logs/` when evaluating during training.
"""

import dataclasses
import json
import math
import os
from typing import Dict, Optional

import keras
import tensorflow as tf
from absl import logging

from albert_tf import atomic_files, output_errors, output_lock
from albert_tf.export import destination
from albert_tf.finetuning import callbacks as callbacks_lib
from albert_tf.finetuning import job as classifier_job
from albert_tf.squad import datasets, decoding, evaluation, feature_cache, features, modeling, reading, scoring
from albert_tf.training import artifacts, runtime, settings_checks, strategies

MODEL_DIR = "squad_model"
HEAD_FILE = "squad_head.json"
WEIGHTS_FILE = "model.weights.h5"
NULL_WARNING_FRACTION = 0.95
METRIC_NAMES = {"squad": "official SQuAD metric", "cmrc2018": "official CMRC2018 metric"}


@dataclasses.dataclass
class SquadSettings:
    output_dir: str
    version: str = "1.1"
    train_file: Optional[str] = None
    predict_file: Optional[str] = None
    cache_dir: Optional[str] = None
    init_checkpoint: Optional[str] = None
    albert_config_file: Optional[str] = None
    preset: Optional[str] = None
    vocab_file: Optional[str] = None
    do_lower_case: Optional[bool] = None   # None: the recorded tokenizer setting (see settings_flags)
    keep_accents: Optional[bool] = None
    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    eval_metric: str = "auto"
    squad_head: str = "auto"
    start_n_top: int = 5
    end_n_top: int = 5
    null_score_diff_threshold: Optional[float] = None
    train_batch_size: int = 48
    predict_batch_size: int = 64
    learning_rate: float = 5e-5
    num_train_epochs: float = 2.0
    train_steps: int = 0
    warmup_proportion: float = 0.1
    warmup_steps: int = -1
    weight_decay: float = 0.01
    do_train: bool = False
    do_predict: bool = False
    do_eval: bool = False
    eval_every_steps: int = 0
    log_every_steps: int = 50
    seed: int = 12345
    strategy: str = "one_device"
    tpu: str = ""
    mixed_precision: str = "off"
    jit_compile: bool = False
    steps_per_execution: int = 1
    cpu_devices: int = 0
    deterministic_ops: bool = False
    static_shapes: bool = False
    export_dir: Optional[str] = None

    @classmethod
    def from_flags(cls, flag_values):
        from albert_tf.tokenization import settings_flags  # pylint: disable=import-outside-toplevel
        values = {f.name: flag_values[f.name].value for f in dataclasses.fields(cls) if f.name in flag_values}
        return cls(**{**values, **settings_flags.explicit_settings(flag_values)})

    @property
    def head(self) -> str:
        if self.squad_head != "auto":
            return self.squad_head
        return "xlnet" if self.version == "2.0" else "span"


def _need(condition, flag, message):
    if not condition:
        raise ValueError(f"--{flag}: {message}")


def check_settings(s: SquadSettings):
    _need(s.version in reading.VERSIONS, "version", f"{s.version!r} must be one of {', '.join(reading.VERSIONS)}")
    _need(s.do_train or s.do_predict or s.do_eval, "do_train", "give at least one of --do_train, --do_predict, "
          "--do_eval")
    _need(not s.do_train or s.train_file, "train_file", "required with --do_train")
    _need(not (s.do_predict or s.do_eval or s.eval_every_steps) or s.predict_file, "predict_file",
          "required with --do_predict / --do_eval")
    _need(s.eval_metric in scoring.METRICS, "eval_metric", f"must be one of {', '.join(scoring.METRICS)}")
    _need(s.eval_metric != "cmrc2018" or s.version == "1.1", "eval_metric",
          "cmrc2018 needs --version=1.1 (CMRC2018 has no unanswerable questions)")
    _need(s.squad_head in ("auto",) + modeling.HEADS, "squad_head", f"must be auto or one of {modeling.HEADS}")
    _need(s.version == "2.0" or s.head == "span", "squad_head", f"{s.head} is a v2 head; SQuAD 1.1 uses 'span'")
    features.check_lengths(s.max_seq_length, s.doc_stride, s.max_query_length)
    _need(s.max_seq_length >= max(s.start_n_top, s.end_n_top), "start_n_top", "must not exceed --max_seq_length")
    settings_checks.at_least(s, 1, "train_batch_size", "predict_batch_size", "n_best_size", "max_answer_length",
                             "start_n_top", "end_n_top", "steps_per_execution", "log_every_steps")
    settings_checks.at_least(s, 0, "train_steps", "eval_every_steps", "cpu_devices")
    need = settings_checks.need
    need(s.learning_rate > 0, "learning_rate", s.learning_rate, "must be > 0")
    need(0 <= s.warmup_proportion <= 1, "warmup_proportion", s.warmup_proportion, "must be in [0, 1]")
    need(s.train_steps > 0 or s.num_train_epochs > 0, "num_train_epochs", s.num_train_epochs,
         "must be > 0 (or set --train_steps)")
    _need(not (s.init_checkpoint is None and s.preset is None and s.albert_config_file is None), "init_checkpoint",
          "give the model: --init_checkpoint (any supported layout, or a squad_model/ directory), or "
          "--preset/--albert_config_file to start from random weights")
    for flag in ("train_file", "predict_file"):
        path = getattr(s, flag)
        _need(path is None or os.path.isfile(path), flag, f"{path} not found")
    settings_checks.existing_file("albert_config_file", s.albert_config_file)
    settings_checks.need(not s.vocab_file or os.path.exists(s.vocab_file), "vocab_file", s.vocab_file,
                         "no such file or directory")
    if not saved_head(s.init_checkpoint):  # a squad_model/ directory has its own weights file
        settings_checks.checkpoint("init_checkpoint", s.init_checkpoint)
    if s.export_dir:  # the export replaces its directory: refuse a wrong one before training, not after
        destination.check_export_dir(s.export_dir, protected=(s.output_dir, s.init_checkpoint))


def saved_head(init_checkpoint: Optional[str]) -> Optional[Dict]:
    """The head settings of a fine-tuned SQuAD model directory, or None for a pretrained checkpoint."""
    if not init_checkpoint or not os.path.isdir(init_checkpoint):
        return None
    path = os.path.join(init_checkpoint, HEAD_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_squad_model(model, directory: str, tokenizer, s: SquadSettings, null_threshold: Optional[float]):
    """Weights + albert_config.json + tokenizer assets + squad_head.json, written whole in a temporary
    directory and swapped in: after a full disk or a kill the model directory is the previous complete
    one, never weights without their tokenizer or head settings."""
    from albert_tf.tokenization import save_tokenizer_assets  # pylint: disable=import-outside-toplevel
    parent = os.path.dirname(os.path.abspath(directory))
    with output_errors.writing(directory):
        os.makedirs(parent, exist_ok=True)
        temporary = atomic_files.temporary_dir(parent, os.path.basename(directory))
        try:
            model.save_weights(os.path.join(temporary, WEIGHTS_FILE))
            artifacts.atomic_write_text(os.path.join(temporary, "albert_config.json"),
                                        json.dumps(model.encoder.albert_config.to_official_dict(), indent=2) + "\n")
            save_tokenizer_assets(tokenizer, temporary)
            artifacts.write_json(os.path.join(temporary, HEAD_FILE), {
                "version": s.version, "head": s.head, "start_n_top": s.start_n_top, "end_n_top": s.end_n_top,
                "max_seq_length": s.max_seq_length, "doc_stride": s.doc_stride,
                "max_query_length": s.max_query_length, "null_threshold": null_threshold})
            atomic_files.publish_dir_replacing(temporary, directory)
        except BaseException:
            atomic_files.remove(temporary)
            raise


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


class SquadRun:
    def __init__(self, s: SquadSettings, config, tokenizer, strategy):
        self.s, self.config, self.tokenizer, self.strategy = s, config, tokenizer, strategy
        self.static_shapes = s.static_shapes or s.strategy == "tpu"
        head = saved_head(s.init_checkpoint)
        self.null_threshold = 0.0
        if head is not None:
            _need(head["version"] == s.version, "version", f"the model in {s.init_checkpoint} was fine-tuned for "
                  f"SQuAD {head['version']}")
            _need(s.squad_head in ("auto", head["head"]), "squad_head",
                  f"the model in {s.init_checkpoint} has the {head['head']!r} head")
            s.squad_head = head["head"]
            self.null_threshold = head.get("null_threshold") or 0.0
        if s.null_score_diff_threshold is not None:
            self.null_threshold = s.null_score_diff_threshold
        self.saved_head = head
        self.best = None
        self.metric = "squad"  # set by `run` from the data and the tokenizer (`scoring.choose_metric`)

    def build(self, num_steps: int, warmup: int):
        from albert_tf.checkpoints import load_weights  # pylint: disable=import-outside-toplevel
        from albert_tf.optimization import create_optimizer  # pylint: disable=import-outside-toplevel
        runtime.configure_runtime(self.s.seed, self.s.mixed_precision, self.s.deterministic_ops)
        with self.strategy.scope():
            static = self.s.max_seq_length if self.static_shapes else None
            self.model = modeling.build_squad_model(self.config, self.s.head, static, self.s.start_n_top,
                                                    self.s.end_n_top)
            if self.saved_head is not None:
                self.model.load_weights(os.path.join(self.s.init_checkpoint, WEIGHTS_FILE))
                logging.info("loaded the fine-tuned SQuAD model from %s (head %s, null threshold %.4f)",
                             self.s.init_checkpoint, self.s.head, self.null_threshold)
            elif self.s.init_checkpoint:
                report = load_weights(self.model, self.s.init_checkpoint, verbose=False)
                logging.info("initialized the encoder from --init_checkpoint=%s: %s", self.s.init_checkpoint,
                             report.summary())
            else:
                logging.warning("no --init_checkpoint: fine-tuning from RANDOM weights (expect F1 near 0)")
            optimizer = create_optimizer("adamw", self.s.learning_rate, max(num_steps, 1), warmup,
                                         weight_decay_rate=self.s.weight_decay)
            if self.s.mixed_precision == "fp16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            loss, loss_weights = self.model.loss_and_weights()
            self.model.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights,
                               jit_compile=self.s.jit_compile, steps_per_execution=self.s.steps_per_execution)

    def train(self, train_features, num_steps: int, evaluate=None):
        data = datasets.train_dataset(train_features, self.s.train_batch_size, self.s.seed, self.s.head,
                                      self.static_shapes)
        progress = callbacks_lib.ProgressLogger(num_steps, self.s.train_batch_size, self.s.log_every_steps)
        callbacks = [progress, keras.callbacks.TensorBoard(os.path.join(self.s.output_dir, "logs"), update_freq=100)]
        if evaluate is not None:
            callbacks.append(callbacks_lib.EvaluateEverySteps(evaluate, self.s.eval_every_steps))
        logging.info("training %d steps of %d windows (%s head)", num_steps, self.s.train_batch_size, self.s.head)
        self.model.fit(data, epochs=1, steps_per_epoch=num_steps, callbacks=callbacks, shuffle=False, verbose=0)
        return progress.last_interval_loss

    def predict(self, examples, predict_features, threshold: Optional[float] = None) -> decoding.Decoded:
        outputs = datasets.predict_outputs(self.model, predict_features, self.s.predict_batch_size, self.static_shapes)
        settings = decoding.DecodeSettings(self.s.version, self.s.n_best_size, self.s.max_answer_length,
                                           self.null_threshold if threshold is None else threshold)
        return decoding.decode(examples, predict_features, outputs, settings)

    def evaluate(self, examples, decoded: decoding.Decoded) -> Dict:
        """Official metrics; v2 also searches the F1-optimal null threshold and re-predicts with it."""
        gold = evaluation.gold_answers_from_examples(examples)
        if self.s.version == "1.1":
            return scoring.score_v1(self.metric, gold, decoded.predictions)
        results = evaluation.evaluate_v2(gold, decoded.predictions, decoded.null_odds, na_prob_thresh=math.inf)
        best = usable_threshold(results, decoded.null_odds)
        if best != self.null_threshold:
            decoded.predictions = decoding.repredict_with_threshold(decoded, best)
            results.update(evaluation.evaluate_v2(gold, decoded.predictions, na_prob_thresh=math.inf))
        results["null_threshold_used"] = self.null_threshold = best
        results["null_fraction"] = decoding.null_fraction(decoded.predictions)
        results["metric"] = "squad"
        return results


def usable_threshold(results: Dict, null_odds: Dict[str, float]) -> float:
    """The threshold to predict with: the official best_f1_thresh, except when answering nothing is best.

    The official search reports 0.0 when no threshold beats "every question is no-answer"; applying
    0.0 would not give that score, so we return a threshold below every null score instead.
    """
    if results["best_f1"] > results.get("NoAns_total", 0) * 100.0 / results["total"] or not null_odds:
        return float(results["best_f1_thresh"])
    return float(min(null_odds.values()) - 1.0)


def train_steps(s: SquadSettings, num_windows: int):
    steps = s.train_steps or int(math.ceil(num_windows * s.num_train_epochs / s.train_batch_size))
    warmup = s.warmup_steps if s.warmup_steps >= 0 else int(steps * s.warmup_proportion)
    _need(warmup <= steps, "warmup_steps", f"{warmup} exceeds the {steps} training steps")
    return steps, warmup


def read_inputs(s: SquadSettings):
    """Every check and the reading of both files, before anything is written (the output directory
    included): (config, tokenizer, (train examples, report) | None, (predict examples, report) | None)."""
    check_settings(s)
    train = predict = None
    if s.do_train:
        train = reading.read_squad(s.train_file, s.version, training=True)
    if s.predict_file and (s.do_predict or s.do_eval or s.eval_every_steps):
        predict = reading.read_squad(s.predict_file, s.version, training=False)
    config = classifier_job.load_config(s)
    tokenizer = classifier_job.load_tokenizer(s)
    classifier_job.check_model_inputs(s, config, tokenizer)
    return config, tokenizer, train, predict


def prepare(s: SquadSettings, inputs=None):
    """`read_inputs` (unless given), then the windowing: (config, tokenizer, train data, predict data)."""
    config, tokenizer, train, predict = inputs if inputs is not None else read_inputs(s)
    artifacts.check_writable(s.output_dir)
    cache_dir = s.cache_dir or os.path.join(s.output_dir, "feature_cache")
    out = {}
    for name, read, path, training in (("train", train, s.train_file, True), ("predict", predict, s.predict_file,
                                                                                False)):
        if read is not None:
            examples, report = read
            feats = feature_cache.cached_features(cache_dir, path, examples, tokenizer, s.max_seq_length,
                                                  s.doc_stride, s.max_query_length, s.version, training)
            out[name] = (examples, report, feats)
    return config, tokenizer, out.get("train"), out.get("predict")


def run(s: SquadSettings) -> Dict:
    runtime.configure_devices(s.cpu_devices)
    strategy = strategies.make_strategy(s.strategy, s.tpu)
    inputs = read_inputs(s)  # a refused run leaves no output directory behind
    # One run per output directory: a second one would mix its model and predictions with ours.
    with output_lock.OutputDirLock(s.output_dir, enabled=strategies.is_chief(strategy), log=logging.warning):
        return _run_holding_output_dir(s, strategy, inputs)


def _run_holding_output_dir(s: SquadSettings, strategy, inputs) -> Dict:
    config, tokenizer, train, predict = prepare(s, inputs)
    num_steps, warmup = train_steps(s, len(train[2])) if s.do_train else (1, 0)
    job = SquadRun(s, config, tokenizer, strategy)
    if predict is not None and (s.do_eval or s.eval_every_steps):
        examples = predict[0]
        job.metric, why = scoring.choose_metric(s.eval_metric, s.version, tokenizer, [e.context for e in examples])
        logging.info("evaluation metric: %s (%s)", METRIC_NAMES[job.metric], why)
        message = scoring.long_answer_warning(examples, tokenizer, s.max_answer_length, s.predict_file)
        if message:
            logging.warning("%s", message)
    job.build(num_steps, warmup)
    model_dir = os.path.join(s.output_dir, MODEL_DIR)
    result = {"output_dir": s.output_dir}

    def evaluate_and_keep_best(step: int):
        examples, _, feats = predict
        results = job.evaluate(examples, job.predict(examples, feats))
        results["global_step"] = step
        tf.io.gfile.makedirs(os.path.join(s.output_dir, "eval_results"))
        artifacts.write_json(os.path.join(s.output_dir, "eval_results", f"step_{step:07d}.json"), results)
        logging.info("eval at step %d (%s): f1=%.3f exact=%.3f", step, METRIC_NAMES[job.metric], results["f1"],
                     results.get("exact_match", results.get("exact", float("nan"))))
        if job.best is None or results["f1"] > job.best["f1"]:
            job.best = {"step": step, "f1": results["f1"], "null_threshold": job.null_threshold}
            save_squad_model(job.model, model_dir, tokenizer, s, job.null_threshold)

    if s.do_train:
        evaluate = evaluate_and_keep_best if s.eval_every_steps and predict else None
        result["final_train_loss"] = job.train(train[2], num_steps, evaluate)
        if job.best is not None:
            job.model.load_weights(os.path.join(model_dir, WEIGHTS_FILE))
            job.null_threshold = job.best["null_threshold"]
            logging.info("restored the best evaluation (step %d, f1 %.3f)", job.best["step"], job.best["f1"])
            result["best"] = job.best
        else:
            save_squad_model(job.model, model_dir, tokenizer, s, job.null_threshold)
    if predict is not None and (s.do_predict or s.do_eval):
        examples, _, feats = predict
        decoded = job.predict(examples, feats)
        if s.do_eval:
            results = job.evaluate(examples, decoded)
            results["windows"] = len(feats)
            if s.do_train or job.saved_head is None:
                save_squad_model(job.model, model_dir, tokenizer, s, job.null_threshold)
            artifacts.write_json(os.path.join(s.output_dir, "eval_results.json"), results)
            logging.info("eval (%s): %s", METRIC_NAMES[results["metric"]],
                         {k: round(v, 4) for k, v in results.items() if isinstance(v, float)})
            result["eval"] = results
        write_outputs(s.output_dir, decoded, s.version)
        if s.version == "2.0":
            message = null_warning(decoded.predictions, s.predict_file)
            if message:
                logging.warning("%s", message)
                result["warning"] = message
        result["predictions"] = os.path.join(s.output_dir, "predictions.json")
    if s.export_dir:
        from albert_tf.export import export_squad  # pylint: disable=import-outside-toplevel
        info = export_squad(job.model, tokenizer, s.export_dir, max_seq_length=s.max_seq_length,
                            max_query_length=s.max_query_length, head=s.head, version=s.version,
                            max_answer_length=s.max_answer_length, null_threshold=job.null_threshold,
                            start_n_top=s.start_n_top, end_n_top=s.end_n_top)
        logging.info("exported the model to %s (reload check: max |diff| %.2e)", s.export_dir,
                     info["max_abs_difference"])
        result["export_dir"] = s.export_dir
    keras.backend.clear_session()
    return result
