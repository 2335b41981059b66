"""Where one pretraining step's time goes: albert-tf or keras-hub, the bench's exact setup, one process.

Builds the implementation as `bench_pretraining_step.py` does (same shapes, same synthetic batch),
runs `--warmup` steps, then traces `--steps` steps with the TensorFlow profiler and prints the
op-level table: TF ops (XLA off) or, with XLA on, the compiled function's HLO instructions (XLA's
CPU code reports each one to the profiler through `--xla_cpu_enable_xprof_traceme`, which this
script sets before TensorFlow starts). Ops are grouped by kind (matmul, fusion, copy/transpose,
gather, scatter, ...) and listed by name, with their share of the traced steps. Each event is the
time the op held the thread that ran it, nested events subtracted; under XLA a large dot spreads its
work over the intra-op threads from inside one event, so the shares are of work started, per op.
Compare two implementations by their shares, run back to back on a quiet machine (or interleave
whole steps with bench_pretraining_step.py): absolute times move with the machine's other load.

Usage:
  .venv/bin/python bench/profile_pretraining_step.py --impl albert_tf --batch 8 --xla on [--top 25]
      [--trace-dir /tmp/profile] [--dump-hlo /tmp/hlo]
`--dump-hlo DIR` also writes XLA's optimized HLO there (XLA on only).
"""

import argparse
import collections
import os
import re
import sys
import tempfile
from pathlib import Path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--impl", choices=("albert_tf", "keras_hub"), required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--xla", choices=("on", "off"), default="on")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--trace-dir", default=None)
    parser.add_argument("--dump-hlo", default=None)
    return parser.parse_args(argv)


def kind_of(name):
    """A coarse category from an op or HLO instruction name."""
    lowered = name.lower()
    for kind, patterns in (
            ("matmul", ("matmul", "dot", "einsum", "gemm", "conv")),
            ("copy/transpose", ("copy", "transpose")),
            ("gather", ("gather", "take", "dynamic-slice", "dynamic_slice")),
            ("scatter", ("scatter", "segment", "dynamic-update-slice", "dynamic_update_slice")),
            ("reduce", ("reduce", "sum", "norm", "mean", "all-reduce")),
            ("fusion", ("fusion",)),
    ):
        if any(p in lowered for p in patterns):
            return kind
    return "other"


# Events of the runtime around the ops (waiting, scheduling), not work of the step.
RUNTIME_EVENTS = ("ThreadpoolListener", "ExecutorState", "EagerExecute", "EagerLocalExecute", "EagerKernelExecute",
                  "FunctionRun", "BlockUntilReady", "SlinkyThreadPool::Await", "ThunkExecutor", "CpuExecutable",
                  "KernelAndDeviceFunc", "TFE_", "train_steps", "one_step_on_data", "end: ", "$")


def op_key(name):
    """TF ops ("scope/.../name:Type") by type and part of the step; HLO instructions by their own name."""
    if ":" not in name:
        return name
    scope, op_type = name.rsplit(":", 1)
    part = ("optimizer" if re.search(r"/(lamb|adam\w*|clip_by_global_norm)[_/]", scope)
            else "backward" if "gradient_tape" in scope else "forward")
    return f"{op_type} ({part})"


def leaf_events(xspace):
    """(name, duration ps) of the innermost events on the host threads, nested events subtracted."""
    for plane in xspace.planes:
        if plane.name != "/host:CPU":
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if "python" in line.name.lower():
                continue
            events = sorted(line.events, key=lambda e: (e.offset_ps, -e.duration_ps))
            stack = []  # [name, start, end, child time]
            for event in events:
                start, end = event.offset_ps, event.offset_ps + event.duration_ps
                while stack and stack[-1][2] <= start:
                    yield finish(stack.pop(), stack)
                stack.append([names.get(event.metadata_id, "?"), start, end, 0])
            while stack:
                yield finish(stack.pop(), stack)


def finish(frame, stack):
    name, start, end, child = frame
    if stack:
        stack[-1][3] += end - start
    return name, max(end - start - child, 0)


def summarize(trace_dir, top, steps):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=import-outside-toplevel

    files = sorted(Path(trace_dir).rglob("*.xplane.pb"))
    if not files:
        raise SystemExit(f"no .xplane.pb under {trace_dir}")
    xspace = xplane_pb2.XSpace()
    xspace.ParseFromString(files[-1].read_bytes())
    by_name, by_kind = collections.Counter(), collections.Counter()
    counts = collections.Counter()
    for name, duration in leaf_events(xspace):
        if name.startswith(RUNTIME_EVENTS):
            continue
        key = op_key(name)
        by_name[key] += duration
        counts[key] += 1
        by_kind[kind_of(name)] += duration
    total = sum(by_kind.values()) or 1
    print(f"op time summed over threads, per step: {total / 1e9 / steps:.0f} ms")
    for kind, value in by_kind.most_common():
        print(f"  {kind:16s} {value / 1e9 / steps:9.1f} ms  {100 * value / total:5.1f}%")
    print(f"top {top} ops by time (per step):")
    for name, value in by_name.most_common(top):
        print(f"  {value / 1e9 / steps:9.1f} ms  {100 * value / total:5.1f}%  x{counts[name] // steps:<4d} {name[:110]}")


def main(argv=None):
    args = parse_args(argv)
    if args.xla == "on":
        flags = [os.environ.get("XLA_FLAGS", ""), "--xla_cpu_enable_xprof_traceme=true"]
        if args.dump_hlo:
            flags += [f"--xla_dump_to={args.dump_hlo}", "--xla_dump_hlo_as_text",
                      "--xla_dump_hlo_pass_re=^$"]
        os.environ["XLA_FLAGS"] = " ".join(f for f in flags if f)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import bench_pretraining_step as bench  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    batch = bench.synthetic_batch(args.batch)
    worker = bench.WORKERS[args.impl](batch, args.xla == "on")
    for _ in range(args.warmup):
        seconds, _ = worker.run(1)
        print(f"warmup step {seconds * 1000:.0f} ms", flush=True)
    trace_dir = args.trace_dir or tempfile.mkdtemp(prefix="profile-step-")
    tf.profiler.experimental.start(trace_dir)
    seconds, loss = worker.run(args.steps)
    tf.profiler.experimental.stop()
    print(f"{args.impl} batch {args.batch} XLA {args.xla}: {seconds * 1000 / args.steps:.0f} ms/step traced "
          f"(loss {loss:.3f}); trace in {trace_dir}")
    summarize(trace_dir, args.top, args.steps)


if __name__ == "__main__":
    sys.exit(main())
