"""Resident benchmark workers timed in rotation, so that other load on a shared machine hits every
implementation alike.

Each implementation lives in its own worker process (its own imports, threads and peak RSS). Workers
are built and warmed up one after another (compiles never overlap), then every round sends one
request to each live worker in turn, the order rotated per round, and waits for its answer before
the next. Workers idle while another runs.

Line protocol on the worker's stdin/stdout (other stdout lines are ignored, stderr goes to a log):
  worker -> `@@BENCH {"event": "ready", ...}` once built and warmed up;
  "run ARG" -> `@@BENCH {"event": "timed", ..., "cpu_s": ...}` (whatever the handler returns);
  "quit" -> `@@BENCH {"event": "done", "peak_rss_mib": ...}`.
bench/peers/modelgarden_pretraining_step.py speaks the same protocol from its own venv.
"""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

MARK = "@@BENCH "


# ------------------------------------------------------------------ worker side

def emit(obj):
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def peak_rss_mib():
    """This process's peak resident memory. VmHWM starts afresh at exec; `ru_maxrss` (the fallback off
    Linux) carries over from the parent at fork, so a worker of a large orchestrator would report the
    orchestrator's peak."""
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource  # pylint: disable=import-outside-toplevel
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def serve(handle, ready):
    """Announces `ready` (a dict), then answers each "run ARG" line with `handle(ARG)` (a dict) plus the
    process CPU time it took, until "quit" or end of input."""
    emit({"event": "ready", **ready, "rss_after_warmup_mib": peak_rss_mib()})
    for line in sys.stdin:
        command = line.split(maxsplit=1)
        if not command:
            continue
        if command[0] == "run":
            cpu0 = time.process_time()
            result = handle(command[1].strip() if len(command) > 1 else "")
            emit({"event": "timed", **result, "cpu_s": time.process_time() - cpu0})
        elif command[0] == "quit":
            break
    emit({"event": "done", "peak_rss_mib": peak_rss_mib()})



def serve_training_steps(trainer, batch, warmup_steps, build_s):
    """A training worker's life after its model is built: one untimed step on each of `warmup_steps`,
    then one timed `trainer.step(batch(step))` per request (the step index in; seconds and loss out)."""
    warmup = []
    for step in warmup_steps:
        t0 = time.perf_counter()
        trainer.step(batch(step))
        warmup.append(time.perf_counter() - t0)

    def handle(argument):
        step = int(argument)
        t0 = time.perf_counter()
        loss = trainer.step(batch(step))
        return {"step": step, "seconds": time.perf_counter() - t0, "loss": loss}

    serve(handle, {"build_s": build_s, "warmup_s": warmup, "versions": trainer.versions})


# ------------------------------------------------------------------ orchestrator side

def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Worker:
    """A worker subprocess speaking the line protocol; stderr goes to a log file."""

    def __init__(self, name, cmd, log_path, cwd=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "w", encoding="utf-8")  # pylint: disable=consider-using-with
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, cwd=cwd, env=env)  # pylint: disable=consider-using-with

    def read(self):
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        self.proc.wait()
        self.log.flush()
        if self.proc.returncode == -9:
            raise RuntimeError(f"{self.name} was killed by SIGKILL (usually the kernel's out-of-memory killer; "
                               "see dmesg)")
        tail = [line for line in Path(self.log_path).read_text(encoding="utf-8", errors="replace").splitlines()
                if line.strip() and "cuInit" not in line and "UserWarning" not in line][-4:]
        raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: " + " | ".join(tail))

    def send(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        if text == "quit":
            self.proc.stdin.close()

    def request(self, argument):
        """One timed request: "run ARGUMENT" and its answer."""
        self.send(f"run {argument}")
        return self.read()

    def request_quit(self):
        try:
            self.send("quit")
        except (BrokenPipeError, OSError):
            pass

    def close(self):
        """The worker's final report ({} if it died); sends "quit" unless `request_quit` did."""
        try:
            if not self.proc.stdin.closed:
                self.request_quit()
            return self.read()
        except (RuntimeError, BrokenPipeError, OSError):
            return {}
        finally:
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.log.close()


def start_in_turn(commands, log_dir, cwd=None):
    """Starts the workers of `commands` ({name: argv}) one after another, each once the previous one is
    ready (builds and compiles never overlap). Returns ({name: Worker}, {name: ready or {"error": ...}})."""
    workers, ready = {}, {}
    for name, cmd in commands.items():
        log(f"starting {name} (build and warm-up)")
        worker = Worker(name, cmd, os.path.join(log_dir, f"{name}.log"), cwd=cwd)
        try:
            ready[name] = worker.read()
        except RuntimeError as error:
            ready[name] = {"error": str(error)}
            log(f"  {name} failed: {error}")
            worker.close()
            continue
        log(f"  {name} ready")
        workers[name] = worker
    return workers, ready


def rotated(names, round_index):
    names = list(names)
    if not names:
        return names
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def run_rounds(workers, arguments, record, before_round=None, deadline=None):
    """For each argument, one round: every live worker answers "run ARGUMENT" in turn, the order rotated
    per round. `record(name, round_index, reply)` gets each answer, or `{"error": ...}` once for a worker
    that failed (it is dropped). `before_round(round_index)` runs first in every round. Rounds stop
    early, between rounds, once `time.time()` passes `deadline`. Returns the number of rounds run."""
    done = 0
    for round_index, argument in enumerate(arguments):
        if not workers or (deadline is not None and time.time() >= deadline):
            break
        if before_round:
            before_round(round_index)
        for name in rotated(workers, round_index):
            try:
                reply = workers[name].request(argument)
            except (RuntimeError, BrokenPipeError, OSError) as error:
                log(f"  {name} failed: {error}")
                workers.pop(name).close()
                record(name, round_index, {"error": str(error)})
                continue
            record(name, round_index, reply)
        done += 1
    return done


def close_all(workers):
    """Asks every worker to quit at once (TensorFlow's teardown takes a while), then collects their final
    reports: {name: {"peak_rss_mib": ...} or {}}."""
    for worker in workers.values():
        worker.request_quit()
    return {name: worker.close() for name, worker in workers.items()}


# ------------------------------------------------------------------ which steps to time

def spread_order(n):
    """0..n-1 in a low-discrepancy order (golden-ratio stride): every prefix samples the whole range, so a
    run cut short by a time limit still times steps from all over the epoch."""
    if n <= 1:
        return list(range(n))
    stride = max(1, round(n * 0.6180339887))
    while math.gcd(stride, n) != 1:
        stride += 1
    return [(k * stride) % n for k in range(n)]


def first_of_each_width(widths, order):
    """Step numbers, in `order`, of the first step of every distinct width in `widths` (one per step): the
    warm-up steps of an implementation that traces once per input shape."""
    seen, steps = set(), []
    for step in order:
        if widths[step] not in seen:
            seen.add(widths[step])
            steps.append(step)
    return steps


def verdict(ratio, target):
    """' (target >= 2.0x: met)' / ' (target >= 2.0x: NOT met)', or '' without a target."""
    return "" if target is None else f" (target >= {target}x: {'met' if ratio >= target else 'NOT met'})"
