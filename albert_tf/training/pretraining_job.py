"""run_pretraining.py's job: validate everything, build under the strategy, resume, train, evaluate.

Order matters for the user: every check that can fail on bad input (config, data meta vs model,
record shapes, batch divisibility, model_dir writability, init checkpoint shapes) runs before the
first training step, and the message names the flag or file at fault.
"""

import contextlib
import dataclasses
import json
import os
from typing import Optional

import keras
import tensorflow as tf
from absl import logging

from albert_tf import atomic_files, filesystem, model_directory, output_lock
from albert_tf.checkpoints import load_config_for, load_weights, save_tf1
from albert_tf.config import AlbertConfig, preset
from albert_tf.data import meta as meta_lib
from albert_tf.data import pretraining_dataset as data_lib
from albert_tf.modeling import AlbertEncoder, AlbertPretrainer
from albert_tf.optimization import create_optimizer
from albert_tf.tokenization.assets import CONFIG_NAME
from albert_tf.tokenization.base import is_plain_name
from albert_tf.training import artifacts, runtime, settings_checks, strategies
from albert_tf.training.pretraining_loop import LoopSettings, PretrainingLoop, variable_dict

CHECKPOINT_NAME = "ckpt"


@dataclasses.dataclass
class JobSettings:
    input_file: str
    model_dir: str
    albert_config_file: Optional[str] = None
    preset: Optional[str] = None
    init_checkpoint: Optional[str] = None
    eval_input_file: Optional[str] = None
    optimizer: str = "lamb"
    learning_rate: float = 0.00176
    num_train_steps: int = 125000
    num_warmup_steps: int = 3125
    poly_power: float = 1.0
    weight_decay: float = 0.01
    train_batch_size: int = 4096
    grad_accum_steps: int = 1
    seed: int = 12345
    strategy: str = "one_device"
    tpu: str = ""
    steps_per_loop: int = 100
    mixed_precision: str = "off"
    jit_compile: bool = False
    cpu_devices: int = 0
    deterministic_ops: bool = False
    input_sharding: str = "auto"
    save_checkpoints_steps: int = 1000
    keep_checkpoint_max: int = 5
    do_train: bool = True
    do_eval: bool = False
    eval_batch_size: int = 64
    max_eval_steps: int = 100
    verify_shard_sha256: bool = False

    @classmethod
    def from_flags(cls, flag_values):
        return cls(**{f.name: flag_values[f.name].value for f in dataclasses.fields(cls)})


def _need(condition, flag, message):
    if not condition:
        raise ValueError(f"--{flag}: {message}")


def load_model_config(settings: JobSettings) -> AlbertConfig:
    _need(bool(settings.albert_config_file) != bool(settings.preset), "albert_config_file",
          "give exactly one of --albert_config_file or --preset")
    if settings.preset:
        return preset(settings.preset)
    # The config reader takes local files: a gs:// config is read from a local copy.
    with filesystem.local_copy(settings.albert_config_file) as config_file:
        return load_config_for(config_file, config_file)


def check_settings(settings: JobSettings):
    """Every flag value, and that every input path exists, before anything is read or built."""
    settings_checks.at_least(settings, 1, "num_train_steps", "train_batch_size", "grad_accum_steps",
                             "steps_per_loop", "save_checkpoints_steps", "keep_checkpoint_max", "eval_batch_size")
    settings_checks.at_least(settings, 0, "max_eval_steps", "cpu_devices")
    settings_checks.need(0 <= settings.num_warmup_steps <= settings.num_train_steps, "num_warmup_steps",
                         settings.num_warmup_steps, f"must be in [0, --num_train_steps={settings.num_train_steps}]")
    settings_checks.need(settings.learning_rate > 0, "learning_rate", settings.learning_rate, "must be > 0")
    settings_checks.need(settings.weight_decay >= 0, "weight_decay", settings.weight_decay, "must be >= 0")
    settings_checks.existing_file("albert_config_file", settings.albert_config_file)
    settings_checks.checkpoint("init_checkpoint", settings.init_checkpoint)


def _configure_devices(settings: JobSettings):
    runtime.configure_devices(settings.cpu_devices)


def _configure_runtime(settings: JobSettings):
    runtime.configure_runtime(settings.seed, settings.mixed_precision, settings.deterministic_ops, settings.strategy,
                              settings.jit_compile)


def check_data(settings: JobSettings, config: AlbertConfig):
    """Meta of the training (and eval) data, checked against the model and the records."""
    files = data_lib.resolve_files(settings.input_file)
    meta = data_lib.load_dataset_meta(files)
    for warning in meta_lib.check_against_model(meta, config, source=f"--input_file={settings.input_file}"):
        logging.warning("%s", warning)
    data_lib.check_shard_files(files, verify_sha256=settings.verify_shard_sha256)
    data_lib.check_records(files, meta)
    if settings.do_eval:
        eval_files = data_lib.resolve_files(settings.eval_input_file or settings.input_file)
        eval_meta = data_lib.load_dataset_meta(eval_files)
        differ = sorted(k for k, v in eval_meta.settings_key().items() if meta.settings_key().get(k) != v)
        if differ:
            raise meta_lib.MetaError(f"--eval_input_file data differ from --input_file data on {differ}")
        data_lib.check_shard_files(eval_files, verify_sha256=settings.verify_shard_sha256)
        data_lib.check_records(eval_files, eval_meta)
        # Eval batches are static (drop_remainder, as on TPU): fewer records than one batch would
        # evaluate nothing and report accuracy 0.
        names = {os.path.basename(f) for f in eval_files}
        records = sum(int(s.get("instances", 0)) for s in eval_meta.shards if s.get("file") in names) \
            if any("file" in s for s in eval_meta.shards) else eval_meta.instances
        if records < settings.eval_batch_size:
            raise ValueError(f"--eval_batch_size={settings.eval_batch_size} exceeds the {records} eval records of "
                             f"{settings.eval_input_file or settings.input_file}: give a smaller --eval_batch_size "
                             "or more held-out data")
    return files, meta


def _build(settings, config, meta, strategy):
    with strategy.scope():
        encoder = AlbertEncoder(config, sequence_length=meta.max_seq_length)
        model = AlbertPretrainer(encoder, max_predictions_per_seq=meta.max_predictions_per_seq)
        optimizer = create_optimizer(settings.optimizer, settings.learning_rate, settings.num_train_steps,
                                     settings.num_warmup_steps, weight_decay_rate=settings.weight_decay,
                                     poly_power=settings.poly_power)
        if keras.mixed_precision.global_policy().name == "mixed_float16":  # the policy in force (`auto` resolved)
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
    return model, optimizer


def _recorded_vocab_file(tokenizer_config: str) -> str:
    """The vocabulary a `tokenizer_config.json` names, refused unless a plain name in its directory."""
    with tf.io.gfile.GFile(tokenizer_config) as f:
        vocab_file = json.load(f).get("vocab_file")
    if vocab_file is not None and not is_plain_name(vocab_file):
        raise ValueError(f"{tokenizer_config}: field 'vocab_file' must be a plain file name inside its "
                         f"directory, got {vocab_file!r}")
    return vocab_file


def _copy_artifacts(settings, config, files):
    data_dir = os.path.dirname(files[0])
    config_path = os.path.join(settings.model_dir, "albert_config.json")
    if not tf.io.gfile.exists(config_path):
        artifacts.write_json(config_path, config.to_official_dict())
    for name in (meta_lib.META_NAME, CONFIG_NAME):
        artifacts.copy_if_absent(os.path.join(data_dir, name), os.path.join(settings.model_dir, name))
    tokenizer_config = os.path.join(data_dir, CONFIG_NAME)
    if tf.io.gfile.exists(tokenizer_config):
        vocab_file = _recorded_vocab_file(tokenizer_config)
        if vocab_file:
            artifacts.copy_if_absent(os.path.join(data_dir, vocab_file), os.path.join(settings.model_dir, vocab_file))


EXPORT_DIR = "pretrained"


def _export_pretrained(model_dir: str, model, step: int):
    """The finished model in the official TF1 layout, with its config and tokenizer, in
    `<model_dir>/pretrained/`: what `run_classifier.py` / `run_squad.py --init_checkpoint` and
    `albert-convert` read (the training checkpoints hold optimizer state under their own names)."""
    export_dir = filesystem.join(model_dir, EXPORT_DIR)
    prefix = filesystem.join(export_dir, f"model.ckpt-{step}")
    if filesystem.exists(prefix + ".index"):
        return
    local = filesystem.is_local(model_dir)
    # Built in a temporary directory and swapped in whole: a failure on the way (a full disk) never
    # leaves a checkpoint without its config or tokenizer under pretrained/, and the rerun redoes it.
    # The checkpoint writers take local paths, so for a gs:// run that directory is local scratch,
    # copied in afterwards with the checkpoint index and task.json last (no directory rename there).
    with contextlib.ExitStack() as scratch:
        temporary = atomic_files.temporary_dir(model_dir, EXPORT_DIR) if local else \
            scratch.enter_context(filesystem.scratch_dir("albert-tf-pretrained-export-"))
        try:
            save_tf1(model, os.path.join(temporary, os.path.basename(prefix)), global_step=step)
            model_directory.write_task_file(temporary, {"kind": model_directory.PRETRAINING},
                                            checkpoint_name=os.path.basename(prefix))
            tokenizer_config = filesystem.join(model_dir, CONFIG_NAME)
            if filesystem.exists(tokenizer_config):
                vocab_file = _recorded_vocab_file(tokenizer_config)
                for name in (CONFIG_NAME, vocab_file):
                    if name:
                        artifacts.copy_if_absent(filesystem.join(model_dir, name), os.path.join(temporary, name))
            if not local:  # the exports of earlier, shorter runs stay: files are only added
                filesystem.copy_tree(temporary, export_dir, last=(os.path.basename(prefix) + ".index",
                                                                 model_directory.TASK_FILE))
            else:
                if filesystem.isdir(export_dir):  # the exports of earlier, shorter runs stay
                    for name in filesystem.listdir(export_dir):
                        if not filesystem.exists(os.path.join(temporary, name)):
                            os.link(os.path.join(export_dir, name), os.path.join(temporary, name))
                atomic_files.publish_dir_replacing(temporary, export_dir)
        except BaseException:
            atomic_files.remove(temporary)
            raise
    logging.info("exported the pretrained weights (official TF1 layout) to %s", prefix)


def _dataset_fn(settings, config, is_training, input_file, global_batch, completed_steps=0):
    def make(context):
        per_replica = context.get_per_replica_batch_size(global_batch)
        # Every step takes one batch per local replica from this pipeline.
        local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
        dataset, _ = data_lib.pretraining_dataset(
            input_file, per_replica, is_training=is_training, config=config, input_context=context,
            seed=settings.seed, drop_remainder=True, check=False,
            skip_batches=completed_steps * local_replicas, input_sharding=settings.input_sharding)
        return dataset
    return make


def _restore_or_initialize(settings, checkpoint, manager, model):
    latest = manager.latest_checkpoint
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        logging.info("resuming from %s", latest)
        if settings.init_checkpoint:
            logging.info("--init_checkpoint=%s not used: --model_dir already has %s", settings.init_checkpoint,
                         latest)
        return latest
    if settings.init_checkpoint:
        report = load_weights(model, settings.init_checkpoint, verbose=False)
        logging.info("initialized from --init_checkpoint=%s: %s", settings.init_checkpoint, report.summary())
        return settings.init_checkpoint
    logging.info("no checkpoint in %s and no --init_checkpoint: training from random initialization",
                 settings.model_dir)
    return None


def run(settings: JobSettings):
    check_settings(settings)
    _configure_devices(settings)
    # Multi-worker collectives must be configured before TensorFlow runs anything else.
    strategy = strategies.make_strategy(settings.strategy, settings.tpu)
    _configure_runtime(settings)
    config = load_model_config(settings)
    files, meta = check_data(settings, config)
    replicas = strategy.num_replicas_in_sync
    _need(settings.train_batch_size % (replicas * settings.grad_accum_steps) == 0, "train_batch_size",
          f"{settings.train_batch_size} must divide by replicas ({replicas}) x --grad_accum_steps "
          f"({settings.grad_accum_steps})")
    chief = strategies.is_chief(strategy)
    model_dir = settings.model_dir
    artifacts.check_writable(model_dir)
    # One run per model directory (the chief holds it): a second one would mix checkpoints with ours.
    with output_lock.OutputDirLock(model_dir, flag="--model_dir", enabled=chief, log=logging.warning):
        return _train_and_evaluate(settings, strategy, config, files, meta, chief)


def _train_and_evaluate(settings: JobSettings, strategy, config: AlbertConfig, files, meta, chief: bool):
    model_dir = settings.model_dir
    # Non-chief workers must save too (collectives), but into a scratch directory.
    save_dir = model_dir if chief else os.path.join(model_dir, f".worker-{strategy.cluster_resolver.task_id}")
    if chief:
        _copy_artifacts(settings, config, files)

    model, optimizer = _build(settings, config, meta, strategy)
    loop = PretrainingLoop(strategy, model, optimizer, LoopSettings(
        num_train_steps=settings.num_train_steps, steps_per_loop=settings.steps_per_loop,
        save_checkpoints_steps=settings.save_checkpoints_steps, keep_checkpoint_max=settings.keep_checkpoint_max,
        grad_accum_steps=settings.grad_accum_steps, jit_compile=settings.jit_compile))

    checkpoint = tf.train.Checkpoint(model=variable_dict(model.variables),
                                     optimizer=variable_dict(optimizer.variables))
    manager = tf.train.CheckpointManager(checkpoint, save_dir, max_to_keep=settings.keep_checkpoint_max,
                                         checkpoint_name=CHECKPOINT_NAME)
    _restore_or_initialize(settings, checkpoint, manager, model)

    step = int(optimizer.iterations.numpy())
    # The input order is seeded and deterministic: resuming replays it up to the restored step.
    train_data = strategy.distribute_datasets_from_function(
        _dataset_fn(settings, config, True, settings.input_file, settings.train_batch_size, step))
    iterator = iter(train_data)
    if settings.do_train:
        if step >= settings.num_train_steps:
            logging.info("checkpoint is at step %d >= --num_train_steps=%d: nothing to train", step,
                         settings.num_train_steps)
        else:
            writer = tf.summary.create_file_writer(os.path.join(model_dir, "train")) if chief else None
            step = loop.train(iterator, manager, log=lambda message: logging.info("%s", message),
                              summary_writer=writer, global_batch_size=settings.train_batch_size)
    if not chief and tf.io.gfile.exists(save_dir):
        tf.io.gfile.rmtree(save_dir)
    if chief and step >= settings.num_train_steps:
        _export_pretrained(model_dir, model, step)
    if settings.do_eval:
        eval_data = strategy.distribute_datasets_from_function(_dataset_fn(
            settings, config, False, settings.eval_input_file or settings.input_file, settings.eval_batch_size))
        results = loop.evaluate(eval_data, settings.max_eval_steps)
        results["global_step"] = step
        logging.info("eval at step %d: %s", step, results)
        if chief:
            artifacts.write_json(os.path.join(model_dir, "eval_results.json"), results)
            writer = tf.summary.create_file_writer(os.path.join(model_dir, "eval"))
            with writer.as_default(step=step):
                for name, value in results.items():
                    tf.summary.scalar(name, value)
        return results
    return {"global_step": step}
