"""The matmul rates under the fine-tuning and serving benchmarks: TensorFlow (oneDNN) vs PyTorch on this CPU.

One ALBERT-base feed-forward matmul, [rows, 768] x [768, 3072], fp32 and bf16, as each framework runs it
eagerly (TensorFlow: oneDNN; PyTorch: MKL's sgemm for fp32, oneDNN for bf16), each framework in its own
process, best of `--repeats` timings of `--calls` calls. On AMD CPUs MKL's fp32 sgemm can run well below
oneDNN's, which decides much of an fp32 ratio against PyTorch there. Usage:
  .venv/bin/python bench/gemm_peers.py [--rows 512] [--calls 30] [--repeats 3]
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine_info  # noqa: E402  pylint: disable=wrong-import-position

K, N = 768, 3072


def rates_tensorflow(rows, calls, repeats):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    out = {}
    for name, dtype in (("fp32", tf.float32), ("bf16", tf.bfloat16)):
        a = tf.cast(tf.random.normal([rows, K]), dtype)
        b = tf.cast(tf.random.normal([K, N]), dtype)
        out[name] = best_rate(lambda a=a, b=b: tf.matmul(a, b).numpy(), rows, calls, repeats)
    return {"framework": f"TensorFlow {tf.__version__}", **out}


def rates_torch(rows, calls, repeats):
    import torch  # pylint: disable=import-outside-toplevel
    torch.set_num_threads(machine_info.cpu_count())
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(rows, K).to(dtype), torch.randn(K, N).to(dtype)
        out[name] = best_rate(lambda a=a, b=b: a @ b, rows, calls, repeats)
    return {"framework": f"PyTorch {torch.__version__}", **out}


def best_rate(call, rows, calls, repeats):
    """GFLOP/s of the fastest of `repeats` runs of `calls` calls, after 3 warm-up calls."""
    for _ in range(3):
        call()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - started) / calls)
    return 2.0 * rows * K * N / best / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=512, help="rows of the left matrix (batch x tokens)")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", choices=("tensorflow", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        measure = rates_tensorflow if args.worker == "tensorflow" else rates_torch
        print("RESULT " + json.dumps(measure(args.rows, args.calls, args.repeats)), flush=True)
        return
    print(f"machine: {machine_info.describe()}")
    print(f"[{args.rows}, {K}] x [{K}, {N}], best of {args.repeats} x {args.calls} calls, GFLOP/s:")
    for worker in ("tensorflow", "torch"):
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", worker, "--rows", str(args.rows),
                               "--calls", str(args.calls), "--repeats", str(args.repeats)],
                              capture_output=True, text=True, check=False,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            print(f"  {worker}: failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        result = json.loads(line[7:])
        print(f"  {result['framework']}: fp32 {result['fp32']:.0f}, bf16 {result['bf16']:.0f}")


if __name__ == "__main__":
    main()
