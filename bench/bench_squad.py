"""SQuAD throughput on dev-v1.1: window conversion (questions/s), model prediction (windows/s and
questions/s) for the ALBERT-base shape, and decoding (questions/s).

  python bench/bench_squad.py                       # full conversion + decoding, 128 windows through the model
  python bench/bench_squad.py --predict_windows 0   # skip the model (CPU-only quick run)

The model has random weights (speed does not depend on them). Prediction questions/s =
windows/s × (questions / windows of the whole dev set).
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import machine_info  # noqa: E402  (bench/ is the script's directory)

import numpy as np  # noqa: E402

from albert_tf.squad import decoding, features, reading  # noqa: E402
from albert_tf.tokenization import SentencePieceTokenizer  # noqa: E402

REALDATA = Path(os.environ.get("ALBERT_TF_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", default=str(REALDATA / "squad" / "dev-v1.1.json"))
    parser.add_argument("--spm", default=str(REALDATA / "assets" / "albert_en_spm" / "30k-clean.model"))
    parser.add_argument("--preset", default="albert_base_v2")
    parser.add_argument("--max_seq_length", type=int, default=384)
    parser.add_argument("--predict_windows", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    args = parser.parse_args()
    if not os.path.exists(args.squad):
        sys.exit(f"{args.squad} not found (set ALBERT_TF_REALDATA)")
    tokenizer = SentencePieceTokenizer(args.spm)
    examples, _ = reading.read_squad(args.squad, "1.1", training=False)
    if args.limit:
        examples = examples[:args.limit]
    started = time.perf_counter()
    feats = features.convert_examples(examples, tokenizer, args.max_seq_length, 128, 64)
    convert_s = time.perf_counter() - started
    print(f"machine: {machine_info.describe()}")
    print(f"conversion: {len(examples)} questions -> {len(feats)} windows in {convert_s:.1f}s = "
          f"{len(examples) / convert_s:.0f} questions/s")
    rng = np.random.default_rng(0)
    logits = {"start_logits": rng.normal(size=feats.input_ids.shape).astype(np.float32),
              "end_logits": rng.normal(size=feats.input_ids.shape).astype(np.float32)}
    started = time.perf_counter()
    decoding.decode(examples, feats, logits, decoding.DecodeSettings())
    decode_s = time.perf_counter() - started
    print(f"decoding (random logits, n_best 20): {len(examples) / decode_s:.0f} questions/s")
    if args.predict_windows:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        from albert_tf.config import preset  # pylint: disable=import-outside-toplevel
        from albert_tf.squad import datasets, modeling  # pylint: disable=import-outside-toplevel
        from albert_tf.squad.features import FeatureSet  # pylint: disable=import-outside-toplevel
        n = min(args.predict_windows, len(feats))
        sample = FeatureSet(**{name: value[:n] if value.shape[0] == len(feats) else value
                               for name, value in feats.arrays().items()})
        model = modeling.build_squad_model(preset(args.preset), "span")
        datasets.predict_outputs(model, FeatureSet(**{k: v[:args.batch_size] if v.shape[0] == len(feats) else v
                                                      for k, v in feats.arrays().items()}), args.batch_size)  # warm-up
        started = time.perf_counter()
        datasets.predict_outputs(model, sample, args.batch_size)
        predict_s = time.perf_counter() - started
        windows_per_s = n / predict_s
        device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
        print(f"prediction ({args.preset}, {device}, batch {args.batch_size}, batches trimmed to their longest "
              f"window): {windows_per_s:.1f} windows/s = {windows_per_s * len(examples) / len(feats):.1f} "
              f"questions/s")


if __name__ == "__main__":
    main()
