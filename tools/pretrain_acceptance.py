"""Pretrain a tiny ALBERT on real English text on CPU and report held-out MLM/SOP accuracy.

Splits tiny-shakespeare (from ../shared/realdata or $ALBERT_TF_REALDATA) into train / held-out
documents, makes records with albert-create-pretraining-data, trains with run_pretraining.py, and
compares held-out MLM accuracy with the unigram baseline (always predicting the most frequent
masked token) and SOP accuracy with chance.

  python tools/pretrain_acceptance.py --workdir /tmp/acceptance --num_train_steps 1200
"""

import argparse
import collections
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("ALBERT_TF_REALDATA", REPO.parent / "shared" / "realdata"))
TINY = dict(vocab_size=30000, embedding_size=64, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=512, max_position_embeddings=512, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0, hidden_act="gelu", type_vocab_size=2, initializer_range=0.02,
            num_hidden_groups=1, inner_group_num=1)


def split_corpus(source: Path, workdir: Path, heldout_fraction: float):
    documents = source.read_text(encoding="utf-8").split("\n\n")
    cut = int(len(documents) * (1 - heldout_fraction))
    (workdir / "train.txt").write_text("\n\n".join(documents[:cut]) + "\n", encoding="utf-8")
    (workdir / "heldout.txt").write_text("\n\n".join(documents[cut:]) + "\n", encoding="utf-8")


def make_records(workdir: Path, name: str, dupe_factor: int, spm_model: Path = None, vocab_file: Path = None):
    """Records of `<workdir>/<name>.txt` in `<workdir>/<name>/`: SentencePiece (`spm_model`) or WordPiece
    (`vocab_file`, e.g. the Chinese vocab)."""
    tokenizer_flag = f"--spm_model_file={spm_model}" if spm_model else f"--vocab_file={vocab_file}"
    subprocess.run([sys.executable, "-m", "albert_tf.cli.create_pretraining_data",
                    f"--input_file={workdir / (name + '.txt')}", f"--output_dir={workdir / name}",
                    tokenizer_flag, "--max_seq_length=128", "--max_predictions_per_seq=20",
                    f"--dupe_factor={dupe_factor}", "--num_workers=2", "--unit_mb=1", "--overwrite"],
                   check=True, cwd=REPO)


def pretrain(workdir: Path, config: dict, steps: int, batch_size: int, learning_rate: float) -> dict:
    """Trains on `<workdir>/train` with run_pretraining.py (the model, and its export under `pretrained/`,
    in `<workdir>/model`) and returns its held-out eval results."""
    (workdir / "albert_config.json").write_text(json.dumps(config))
    subprocess.run([sys.executable, "run_pretraining.py", f"--input_file={workdir / 'train'}/*.tfrecord",
                    f"--eval_input_file={workdir / 'heldout'}/*.tfrecord",
                    f"--albert_config_file={workdir / 'albert_config.json'}", f"--model_dir={workdir / 'model'}",
                    f"--train_batch_size={batch_size}", f"--num_train_steps={steps}",
                    f"--num_warmup_steps={steps // 10}", f"--learning_rate={learning_rate}",
                    "--steps_per_loop=50", f"--save_checkpoints_steps={max(steps // 4, 100)}", "--do_eval",
                    "--max_eval_steps=0", "--eval_batch_size=64"], check=True, cwd=REPO)
    return json.loads((workdir / "model" / "eval_results.json").read_text())


def unigram_baseline(heldout_dir: Path) -> float:
    import numpy as np  # pylint: disable=import-outside-toplevel
    sys.path.insert(0, str(REPO / "tests"))
    from pretraining_testlib import read_records  # pylint: disable=import-outside-toplevel
    counts = collections.Counter()
    for record in read_records(sorted(heldout_dir.glob("*.tfrecord"))):
        k = int(np.sum(record["masked_lm_weights"]))
        counts.update(record["masked_lm_ids"][:k].tolist())
    return counts.most_common(1)[0][1] / sum(counts.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="/tmp/albert_tf_pretrain_acceptance")
    parser.add_argument("--num_train_steps", type=int, default=1200)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=2e-3)
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    spm_model = REALDATA / "assets/albert_en_spm/30k-clean.model"
    split_corpus(REALDATA / "text/en/tinyshakespeare.txt", workdir, heldout_fraction=0.1)
    make_records(workdir, "train", 5, spm_model)
    make_records(workdir, "heldout", 1, spm_model)
    results = pretrain(workdir, TINY, args.num_train_steps, args.batch_size, args.learning_rate)
    baseline = unigram_baseline(workdir / "heldout")
    print(json.dumps({"heldout_mlm_accuracy": results["mlm_accuracy"], "unigram_baseline": baseline,
                      "heldout_sop_accuracy": results["sop_accuracy"], "heldout_mlm_loss": results["mlm_loss"],
                      "global_step": results["global_step"]}, indent=2))


if __name__ == "__main__":
    main()
