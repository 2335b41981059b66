"""NER speed against Hugging Face in the same process: fine-tuning examples/s and raw-text serving sentences/s.

Fine-tuning: the first `--sentences` CoNLL-2003 train sentences, tokenized once by run_ner.py's own
windows (`ner.features`), trained `--steps` AdamW steps at `--batch` with run_ner.py's input pipeline
(length buckets) and `AlbertTokenClassifier`, against `transformers.AlbertForTokenClassification` on the
same windows with dynamic padding (each batch padded to its longest window) and torch's AdamW.
Serving: the raw-text export's `serving_default` over dev sentences in batches of `--batch`, against
`transformers.pipeline("token-classification", aggregation_strategy="simple")` over the same sentences.
Both sides start from the same random weights of the chosen shape (`--shape base`: ALBERT-base; `tiny`).

    python bench/ner_speed.py --steps=20 --serve_sentences=256 [--shape=base] [--output=ner_speed.json]

Needs the oracle extra (transformers, torch) and ../shared/realdata (CoNLL-2003, the English SentencePiece).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

REALDATA = Path(os.environ.get("ALBERT_TF_REALDATA", ROOT.parent / "shared" / "realdata"))
TINY = dict(vocab_size=30000, embedding_size=64, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=256, max_position_embeddings=512)


def _config(shape):
    from albert_tf.config import AlbertConfig, preset
    base = preset("albert_base_v2").to_dict() if shape == "base" else TINY
    return AlbertConfig.from_dict({**base, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0})


def _first_sentences(path: Path, count: int, directory: str) -> str:
    blocks = [b for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()][:count]
    out = os.path.join(directory, path.name)
    Path(out).write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return out


def ours_training(args, config, train_file, scratch):
    import keras
    from albert_tf.jobs import runner
    from albert_tf.jobs.ner import NerFamily
    from albert_tf.jobs.settings import NerSettings
    from albert_tf.modeling.token_losses import masked_token_cross_entropy
    from albert_tf.optimization import create_optimizer
    s = NerSettings(train_file=train_file, output_dir=os.path.join(scratch, "run"), albert_config_file=None,
                    preset="albert_base_v2", vocab_file=args.spm, max_seq_length=args.seq, doc_stride=args.seq // 2,
                    train_batch_size=args.batch, do_train=True, train_steps=args.steps, classifier_dropout=0.0)
    family = NerFamily(s)
    family.check_settings()
    family.read()
    family.config, family.tokenizer = config, runner.load_tokenizer(s)
    family.prepare(None)
    run = runner.SeedRun(1, s.output_dir)
    family.build_model(run)
    run.model.compile(optimizer=create_optimizer("adamw", 5e-5, args.steps + args.warmup, 0),
                      loss=masked_token_cross_entropy, jit_compile=args.jit)
    data = family.train_dataset(run)
    run.model.fit(data, epochs=1, steps_per_epoch=args.warmup, verbose=0)  # tracing and first steps
    started = time.perf_counter()
    history = run.model.fit(data.skip(args.warmup), epochs=1, steps_per_epoch=args.steps, verbose=0)
    seconds = time.perf_counter() - started
    keras.backend.clear_session()
    return family, run, {"examples_per_s": args.steps * args.batch / seconds, "seconds": seconds,
                         "last_loss": float(history.history["loss"][-1]), "windows": len(family.splits["train"].windows)}


def hf_training(args, config, family):
    import torch
    import transformers
    hf_config = transformers.AlbertConfig(**config.to_hf_dict(), num_labels=len(family.labels))
    model = transformers.AlbertForTokenClassification(hf_config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    inputs, labels = family.splits["train"].arrays(args.seq)
    rng = np.random.default_rng(1)

    def batches():
        while True:
            for rows in np.array_split(rng.permutation(len(labels)), max(len(labels) // args.batch, 1)):
                rows = rows[:args.batch]
                width = int(inputs["input_mask"][rows].sum(1).max())  # dynamic padding
                yield ({"input_ids": torch.from_numpy(inputs["input_word_ids"][rows, :width]).long(),
                        "attention_mask": torch.from_numpy(inputs["input_mask"][rows, :width]).long(),
                        "token_type_ids": torch.from_numpy(inputs["input_type_ids"][rows, :width]).long()},
                       torch.from_numpy(labels[rows, :width]).long())
    stream = batches()

    def step():
        x, y = next(stream)
        optimizer.zero_grad()
        loss = model(**x, labels=y).loss
        loss.backward()
        optimizer.step()
        return float(loss.detach())
    for _ in range(args.warmup):
        step()
    started = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    seconds = time.perf_counter() - started
    return model, {"examples_per_s": args.steps * args.batch / seconds, "seconds": seconds, "last_loss": loss}


def serving(args, family, run, hf_model, texts, scratch):
    import tensorflow as tf
    import transformers
    from albert_tf.export import ner_serving
    export_dir = os.path.join(scratch, "export")
    ner_serving.export_ner(run.model, family.tokenizer, export_dir, labels=family.labels, max_seq_length=args.seq,
                           check=False)
    signature = tf.saved_model.load(export_dir).signatures["serving_default"]
    signature(text=tf.constant(texts[:args.batch]))
    started = time.perf_counter()
    for i in range(0, len(texts), args.batch):
        signature(text=tf.constant(texts[i:i + args.batch]))
    ours = len(texts) / (time.perf_counter() - started)
    tokenizer = transformers.AlbertTokenizer(vocab_file=args.spm)
    tagger = transformers.pipeline("token-classification", model=hf_model.eval(), tokenizer=tokenizer,
                                   aggregation_strategy="simple", device=-1)
    tagger(texts[:args.batch], batch_size=args.batch)
    started = time.perf_counter()
    tagger(texts, batch_size=args.batch)
    theirs = len(texts) / (time.perf_counter() - started)
    return {"albert_tf_sentences_per_s": ours, "hf_pipeline_sentences_per_s": theirs}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["base", "tiny"], default="base")
    parser.add_argument("--sentences", type=int, default=4000)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--serve_sentences", type=int, default=256)
    parser.add_argument("--jit", action="store_true", help="XLA-compile albert-tf's train step")
    parser.add_argument("--spm", default=str(REALDATA / "assets" / "albert_en_spm" / "30k-clean.model"))
    parser.add_argument("--conll", default=str(REALDATA / "ner" / "conll2003"))
    parser.add_argument("--output")
    args = parser.parse_args()
    config = _config(args.shape)
    with tempfile.TemporaryDirectory() as scratch:
        train_file = _first_sentences(Path(args.conll) / "train.txt", args.sentences, scratch)
        family, run, ours = ours_training(args, config, train_file, scratch)
        hf_model, theirs = hf_training(args, config, family)
        dev = [b for b in (Path(args.conll) / "dev.txt").read_text(encoding="utf-8").split("\n\n") if b.strip()]
        texts = [" ".join(line.split()[0] for line in block.splitlines()) for block in dev[:args.serve_sentences]]
        served = serving(args, family, run, hf_model, texts, scratch)
    result = {"shape": args.shape, "sentences": args.sentences, "seq": args.seq, "batch": args.batch,
              "steps": args.steps, "train": {"albert_tf": ours, "hf": theirs,
                                            "ratio": ours["examples_per_s"] / theirs["examples_per_s"]},
              "serve": {**served, "ratio": served["albert_tf_sentences_per_s"] /
                        served["hf_pipeline_sentences_per_s"]}}
    print(json.dumps(result, indent=2))
    if args.output:
        from albert_tf.training.artifacts import write_json
        write_json(args.output, result)


if __name__ == "__main__":
    main()
