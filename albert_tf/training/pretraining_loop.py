"""The pretraining loop: a compiled multi-step train function, checkpoints that resume exactly, logs.

A custom loop rather than `Model.fit`, because resuming a preempted pretraining run needs the
optimizer state, the step (hence the schedule position) *and the input position* restored
together: the checkpoint holds the model and the optimizer (with its step), and the seeded,
deterministic input pipeline is replayed up to that step (distributed iterators cannot be
checkpointed). Checkpoints
become visible atomically (CheckpointManager updates its index file only after the data files
are complete), so a kill at any moment leaves the previous checkpoint usable.
"""

import dataclasses
import math
import time
from typing import Callable, Dict, Optional

import tensorflow as tf

from albert_tf.model_inputs import MASKED_LM_WEIGHTS, PRETRAINER_INPUTS, SENTENCE_ORDER_LABEL
from albert_tf.training import pretraining_losses as losses

SUM_KEYS = ("mlm_loss", "mlm_weight", "mlm_correct", "sop_loss", "sop_count", "sop_correct")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; nothing after the last good checkpoint was saved."""


def variable_dict(variables) -> Dict[str, tf.Variable]:
    """Variables keyed by position and leaf name: a checkpoint layout that does not depend on the
    auto-numbered object names Keras gives (`lamb_1/...`, `seed_generator_3/...`), which change
    with what else the process has built."""
    return {f"{index:04d}/{getattr(v, 'path', v.name).rsplit('/', 1)[-1]}": v
            for index, v in enumerate(variables)}


@dataclasses.dataclass
class LoopSettings:
    num_train_steps: int
    steps_per_loop: int = 100
    save_checkpoints_steps: int = 1000
    keep_checkpoint_max: int = 5
    grad_accum_steps: int = 1
    jit_compile: bool = False


class PretrainingLoop:
    """Owns the compiled train/eval functions and the checkpoint of one pretraining run."""

    def __init__(self, strategy, model, optimizer, settings: LoopSettings):
        self.strategy = strategy
        self.model = model
        self.optimizer = optimizer
        self.settings = settings
        self._compute = tf.function(self._compute_gradients, jit_compile=settings.jit_compile)
        self._forward = tf.function(self._forward_sums, jit_compile=settings.jit_compile)
        # With one replica nothing crosses devices between the gradients and the update, so XLA
        # can compile both together (the clip and the LAMB/AdamW update fuse into the step instead
        # of running as hundreds of small ops). With several replicas the update must see the
        # all-reduced gradients, which a per-replica compiled function cannot do.
        self._compute_and_apply = None
        if settings.jit_compile and strategy.num_replicas_in_sync == 1 and settings.grad_accum_steps == 1:
            self._compute_and_apply = tf.function(self._compute_and_apply_gradients, jit_compile=True)

    # === Per replica ===
    def _model_outputs(self, batch, training):
        return self.model({name: batch[name] for name in PRETRAINER_INPUTS}, training=training)

    def _compute_gradients(self, batch, global_mlm_weight, global_sop_count):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            sums = losses.pretraining_sums(batch, self._model_outputs(batch, training=True))
            loss = losses.total_loss(sums, global_mlm_weight, global_sop_count)
            scaled = self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
        gradients = tape.gradient(scaled, variables)
        gradients = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(gradients, variables)]
        return gradients, sums

    def _compute_and_apply_gradients(self, batch, global_mlm_weight, global_sop_count):
        gradients, sums = self._compute_gradients(batch, global_mlm_weight, global_sop_count)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        return sums

    def _replica_train_step(self, batch):
        context = tf.distribute.get_replica_context()
        local = tf.stack([tf.reduce_sum(tf.cast(batch[MASKED_LM_WEIGHTS], tf.float32)),
                          tf.cast(tf.size(batch[SENTENCE_ORDER_LABEL]), tf.float32)])
        global_mlm_weight, global_sop_count = tf.unstack(context.all_reduce(tf.distribute.ReduceOp.SUM, local))
        if self._compute_and_apply is not None:
            return self._compute_and_apply(batch, global_mlm_weight, global_sop_count)
        accum = self.settings.grad_accum_steps
        if accum == 1:
            gradients, sums = self._compute(batch, global_mlm_weight, global_sop_count)
        else:
            gradients, sums = self._accumulate(batch, accum, global_mlm_weight, global_sop_count)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        return sums

    def _accumulate(self, batch, accum, global_mlm_weight, global_sop_count):
        """Gradients summed over `accum` sequential micro-batches (one at a time in memory)."""
        micro = {k: tf.reshape(v, tf.concat([[accum, -1], tf.shape(v)[1:]], axis=0)) for k, v in batch.items()}
        variables = self.model.trainable_variables

        def body(i, gradients, sums):
            part = {k: v[i] for k, v in micro.items()}
            new_gradients, new_sums = self._compute(part, global_mlm_weight, global_sop_count)
            return (i + 1, [a + b for a, b in zip(gradients, new_gradients)],
                    {k: sums[k] + new_sums[k] for k in SUM_KEYS})

        zeros = [tf.zeros(v.shape, v.dtype) for v in variables]
        sums0 = {k: tf.constant(0.0) for k in SUM_KEYS}
        _, gradients, sums = tf.while_loop(lambda i, *_: i < accum, body, (tf.constant(0), zeros, sums0))
        return gradients, sums

    def _forward_sums(self, batch):
        return losses.pretraining_sums(batch, self._model_outputs(batch, training=False))

    # === Cross replica ===
    @tf.function
    def train_steps(self, iterator, num_steps):
        """Run `num_steps` steps in one call (host overhead amortized); returns summed counters."""
        totals = {k: tf.constant(0.0) for k in SUM_KEYS}
        for _ in tf.range(num_steps):
            per_replica = self.strategy.run(self._replica_train_step, args=(next(iterator),))
            totals = {k: totals[k] + self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[k], axis=None)
                      for k in SUM_KEYS}
        return totals

    @tf.function
    def eval_step(self, batch):
        per_replica = self.strategy.run(self._forward, args=(batch,))
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[k], axis=None) for k in SUM_KEYS}

    # === Host loop ===
    def train(self, iterator, manager: tf.train.CheckpointManager, *, log: Callable[[str], None],
              summary_writer=None, global_batch_size: int = 0, on_save: Optional[Callable[[str], None]] = None):
        settings = self.settings
        step = int(self.optimizer.iterations.numpy())
        started, start_step = time.time(), step
        while step < settings.num_train_steps:
            to_save = settings.save_checkpoints_steps - step % settings.save_checkpoints_steps
            n = min(settings.steps_per_loop, settings.num_train_steps - step, to_save)
            loop_start = time.time()
            sums = {k: float(v) for k, v in self.train_steps(iterator, tf.constant(n)).items()}
            elapsed = time.time() - loop_start
            previous, step = step, int(self.optimizer.iterations.numpy())
            metrics = losses.summarize(sums)
            if not math.isfinite(metrics["loss"]):
                raise TrainingDivergedError(
                    f"loss became {metrics['loss']} between step {previous} and {step}; stopped without "
                    f"saving. Last good checkpoint: {manager.latest_checkpoint or 'none'}")
            examples_per_second = global_batch_size * (step - previous) / max(elapsed, 1e-9)
            learning_rate = float(self.optimizer.learning_rate)
            done = step - start_step
            eta = (time.time() - started) / max(done, 1) * (settings.num_train_steps - step)
            log(f"step {step}/{settings.num_train_steps} loss {metrics['loss']:.4f} "
                f"mlm_acc {metrics['mlm_accuracy']:.4f} sop_acc {metrics['sop_accuracy']:.4f} "
                f"lr {learning_rate:.3g} {examples_per_second:.1f} examples/s ETA {_eta(eta)}")
            if summary_writer is not None:
                with summary_writer.as_default(step=step):
                    for name, value in metrics.items():
                        tf.summary.scalar(name, value)
                    tf.summary.scalar("learning_rate", learning_rate)
                    tf.summary.scalar("examples_per_second", examples_per_second)
            if step % settings.save_checkpoints_steps == 0 or step == settings.num_train_steps:
                path = manager.save(checkpoint_number=step)
                if on_save is not None:
                    on_save(path)
        return step

    def evaluate(self, dataset, max_steps: int) -> dict:
        totals = {k: 0.0 for k in SUM_KEYS}
        steps = 0
        for batch in dataset:
            if max_steps and steps >= max_steps:
                break
            for k, v in self.eval_step(batch).items():
                totals[k] += float(v)
            steps += 1
        results = losses.summarize(totals)
        results.update({"eval_steps": steps, "masked_positions": totals["mlm_weight"],
                        "examples": totals["sop_count"]})
        return results


def _eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
