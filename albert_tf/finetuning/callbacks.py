"""Keras callbacks of the fine-tuning job: progress lines, and evaluation every N steps."""

import time

import keras
from absl import logging


def _step(model) -> int:
    return int(model.optimizer.iterations.numpy())


class ProgressLogger(keras.callbacks.Callback):
    """A line every `every_steps` steps: loss over the interval, examples/s, ETA. Intervals end at multiples
    of `every_steps` (and at the last step) also in a resumed run, so a run resumed before its last interval
    reports the last interval loss of an uninterrupted run (the stuck-loss warning reads it)."""

    def __init__(self, total_steps: int, batch_size: int, every_steps: int = 50):
        super().__init__()
        self.total_steps, self.batch_size, self.every_steps = total_steps, batch_size, max(1, every_steps)
        self.interval_losses = []  # (step, mean loss over the interval)

    def on_train_begin(self, logs=None):
        self._start = self._mark = time.time()
        self._mark_step = _step(self.model)
        self._first_step = self._mark_step
        self._mark_mean = 0.0
        self._next_step = (self._mark_step // self.every_steps + 1) * self.every_steps

    def on_train_batch_end(self, batch, logs=None):
        step = _step(self.model)
        if step < self._next_step and step < self.total_steps:
            return
        self._next_step = (step // self.every_steps + 1) * self.every_steps
        # Keras reports the running mean since the start of fit; recover the interval's mean.
        done = step - self._first_step
        mean = float((logs or {}).get("loss", float("nan")))
        previous = self._mark_step - self._first_step
        interval_loss = (mean * done - self._mark_mean * previous) / max(done - previous, 1)
        self.interval_losses.append((step, interval_loss))
        now = time.time()
        rate = (step - self._mark_step) * self.batch_size / max(now - self._mark, 1e-9)
        eta = (self.total_steps - step) * self.batch_size / max(rate, 1e-9)
        logging.info("step %d/%d  loss %.4f  %.1f examples/s  ETA %.0fs", step, self.total_steps, interval_loss,
                     rate, eta)
        self._mark, self._mark_step, self._mark_mean = now, step, mean

    @property
    def last_interval_loss(self):
        return self.interval_losses[-1][1] if self.interval_losses else None


class EverySteps(keras.callbacks.Callback):
    """Calls `action(step)` every `every_steps` optimizer steps (0: never)."""

    def __init__(self, action, every_steps: int):
        super().__init__()
        self.action, self.every_steps = action, every_steps
        self.last_step = None

    def on_train_begin(self, logs=None):
        # With steps_per_execution > 1 the callback sees every k-th step: act at the first step past a multiple.
        start = _step(self.model)
        self.next_step = (start // self.every_steps + 1) * self.every_steps if self.every_steps else None

    def on_train_batch_end(self, batch, logs=None):
        step = _step(self.model)
        if self.next_step is not None and step >= self.next_step:
            self.next_step = (step // self.every_steps + 1) * self.every_steps
            self._run(step)

    def _run(self, step):
        self.last_step = step
        self.action(step)


class EvaluateEverySteps(EverySteps):
    """Calls `evaluate(step)` every `every_steps` optimizer steps and once at the end of training."""

    def on_train_end(self, logs=None):
        step = _step(self.model)
        if step != self.last_step:
            self._run(step)
