"""bfloat16 against float32 end to end on SST-2: fine-tune a tiny ALBERT (random init, the official English
SentencePiece vocabulary) once per precision with run_classifier.py, compare dev accuracy, then export the
float32-trained model as fp32 and bf16 with albert-export and compare their labels on every dev sentence.

Data from ../shared/realdata (or $ALBERT_TF_REALDATA): the first --train_rows SST-2 training sentences and
the 872 dev sentences. Results go to <workdir>/bf16_acceptance.json and stdout.

  python tools/bf16_acceptance.py --workdir /tmp/bf16_acceptance --train_steps 1000
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("ALBERT_TF_REALDATA", REPO.parent / "shared" / "realdata"))
TINY = dict(vocab_size=30000, embedding_size=64, hidden_size=128, num_hidden_layers=4, num_attention_heads=2,
            intermediate_size=512, max_position_embeddings=512, hidden_act="gelu", type_vocab_size=2,
            initializer_range=0.02, num_hidden_groups=1, inner_group_num=1)


def prepare(workdir: Path, train_rows: int):
    """SST-2 with the first `train_rows` training sentences, the config and the vocabulary."""
    data = workdir / "SST-2"
    data.mkdir(parents=True, exist_ok=True)
    source = REALDATA / "glue" / "SST-2"
    lines = (source / "train.tsv").read_text(encoding="utf-8").splitlines()
    (data / "train.tsv").write_text("\n".join(lines[:train_rows + 1]) + "\n", encoding="utf-8")
    (data / "dev.tsv").write_text((source / "dev.tsv").read_text(encoding="utf-8"), encoding="utf-8")
    (workdir / "albert_config.json").write_text(json.dumps(TINY))


def fine_tune(workdir: Path, precision: str, steps: int, learning_rate: float) -> dict:
    output = workdir / f"run_{precision}"
    start = time.perf_counter()
    subprocess.run([sys.executable, "run_classifier.py", "--task_name=SST-2", f"--data_dir={workdir / 'SST-2'}",
                    f"--albert_config_file={workdir / 'albert_config.json'}",
                    f"--vocab_file={REALDATA / 'assets' / 'albert_en_spm' / '30k-clean.model'}",
                    f"--output_dir={output}", "--do_train", "--do_eval", f"--train_steps={steps}",
                    "--train_batch_size=32", f"--learning_rate={learning_rate}", "--max_seq_length=64",
                    f"--mixed_precision={precision}", "--save_checkpoints_steps=0", "--log_every_steps=100"],
                   check=True, cwd=REPO)
    results = json.loads((output / "eval_results.json").read_text())
    return {"dev_accuracy": results["dev"]["accuracy"], "seconds": time.perf_counter() - start,
            "prediction_histogram": results["dev"].get("prediction_histogram")}


def export_and_serve(workdir: Path, precision: str, checkpoint: Path, texts) -> dict:
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    import tensorflow_text  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    export_dir = workdir / f"export_{precision}"
    subprocess.run([sys.executable, "-m", "albert_tf.cli.export", f"--checkpoint={checkpoint}",
                    f"--export_dir={export_dir}", f"--precision={precision}"], check=True, cwd=REPO)
    info = json.loads((export_dir / "assets.extra" / "export.json").read_text())
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, 96, 32):
        serve(text_a=tf.constant([texts[i] for i in order[start:start + 32]]))
    labels = np.zeros(len(texts), np.int64)
    begin = time.perf_counter()
    for start in range(0, len(texts), 32):
        rows = order[start:start + 32]
        labels[rows] = serve(text_a=tf.constant([texts[i] for i in rows]))["label_id"].numpy()
    return {"labels": labels, "sentences_per_second": len(texts) / (time.perf_counter() - begin),
            "self_check_max_abs_difference": info.get("max_abs_difference")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--train_steps", type=int, default=1000)
    parser.add_argument("--train_rows", type=int, default=20000)
    parser.add_argument("--learning_rate", type=float, default=3e-4)
    args = parser.parse_args()
    if not (REALDATA / "glue" / "SST-2" / "dev.tsv").exists():
        raise SystemExit(f"SST-2 is not under {REALDATA}: set $ALBERT_TF_REALDATA")
    workdir = Path(args.workdir)
    prepare(workdir, args.train_rows)
    report = {"train_steps": args.train_steps, "train_rows": args.train_rows, "learning_rate": args.learning_rate,
              "config": TINY}
    for precision in ("off", "bf16"):
        report[f"fine_tuning_{precision}"] = fine_tune(workdir, precision, args.train_steps, args.learning_rate)
    dev = (workdir / "SST-2" / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:]
    texts = [line.split("\t")[0] for line in dev]
    gold = [int(line.split("\t")[1]) for line in dev]
    labels = {}
    for precision in ("fp32", "bf16"):
        result = export_and_serve(workdir, precision, workdir / "run_off" / "best_checkpoint", texts)
        labels[precision] = result.pop("labels")
        result["dev_accuracy"] = float((labels[precision] == gold).mean())
        report[f"serving_{precision}"] = result
    report["serving_label_agreement"] = float((labels["fp32"] == labels["bf16"]).mean())
    (workdir / "bf16_acceptance.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "config"}, indent=2, default=str))


if __name__ == "__main__":
    main()
