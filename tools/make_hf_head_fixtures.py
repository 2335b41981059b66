"""Regenerate the Hugging Face head goldens: fine-tuned heads through albert-convert into transformers.

For a SQuAD span head and a 3-label classifier this builds a tiny model directory with seeded random
weights (`build_model_directory`, numpy only, so the tests rebuild the identical directory without
torch), converts it with `albert-convert --output_format hf`, and records what transformers computes
on the converted directory for a padded batch:
- `AlbertForQuestionAnswering`: start and end logits [B, S];
- `AlbertForSequenceClassification`: logits [B, 3], and the `id2label` it read.
The batch (ids, mask, segment ids) is stored with the outputs, so `tests/test_hf_heads.py` needs
neither torch nor a tokenizer run to compare.

Usage (needs the `oracle` extra: transformers<5, torch==2.13.0):
    python tools/make_hf_head_fixtures.py --out tests/fixtures/hf_heads
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPM = os.path.join(ROOT, "tests", "fixtures", "direct_use", "en", "tiny.model")
# Dropout 0 and the tanh GELU ("gelu" here, "gelu_new" in transformers): the same function on both sides.
CONFIG = dict(embedding_size=16, hidden_size=32, num_attention_heads=4, intermediate_size=48, num_hidden_layers=2,
              num_hidden_groups=1, inner_group_num=1, max_position_embeddings=64, type_vocab_size=2,
              hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
MAX_SEQ_LENGTH = 40
CASES = {
    "squad": dict(seed=11, task=dict(kind="squad", task_name="squad", labels=[], max_seq_length=MAX_SEQ_LENGTH,
                                     version="1.1", head="span", start_n_top=5, end_n_top=5, doc_stride=16,
                                     max_query_length=12, null_threshold=None)),
    "classifier": dict(seed=12, task=dict(kind="classification", task_name="MNLI", max_seq_length=MAX_SEQ_LENGTH,
                                          labels=["contradiction", "entailment", "neutral"])),
}
PAIRS = [("what does the model learn", "the model learns the tokens of the training text"),
         ("who trains", "a person trains a model"),
         ("where is the vocabulary", "the vocabulary is stored next to the model with its settings and a hash")]


def tokenizer():
    from albert_tf.tokenization import SentencePieceTokenizer  # pylint: disable=import-outside-toplevel
    return SentencePieceTokenizer(SPM)


def build_model_directory(case: str, directory: str) -> str:
    """The tiny model directory of `case`, weights drawn from the case's seed (same on every machine)."""
    from albert_tf import model_directory  # pylint: disable=import-outside-toplevel
    from albert_tf.checkpoints.names import model_slots  # pylint: disable=import-outside-toplevel
    from albert_tf.config import AlbertConfig  # pylint: disable=import-outside-toplevel

    spec = CASES[case]
    tok = tokenizer()
    config = AlbertConfig(vocab_size=tok.vocab_size, **CONFIG)
    model = model_directory.build_model(config, spec["task"])
    rng = np.random.default_rng(spec["seed"])
    for slot in model_slots(model):
        noise = rng.standard_normal(tuple(slot.variable.shape)).astype(np.float32)
        if slot.name.endswith("LayerNorm/gamma"):
            value = 1.0 + 0.1 * noise
        else:
            value = (0.1 if noise.ndim == 1 else 0.3) * noise
        slot.variable.assign(value)
    return model_directory.save_model_directory(directory, model, tok, spec["task"])


def padded_batch():
    """Question/text pairs packed to the longest row; the shorter rows are padded."""
    tok = tokenizer()
    packed = tok.pack_batch([a for a, _ in PAIRS], [b for _, b in PAIRS], max_seq_length=MAX_SEQ_LENGTH)
    length = int(np.asarray(packed.input_mask).sum(axis=1).max())
    return {"input_ids": np.asarray(packed.input_ids)[:, :length].tolist(),
            "attention_mask": np.asarray(packed.input_mask)[:, :length].tolist(),
            "token_type_ids": np.asarray(packed.segment_ids)[:, :length].tolist()}


def convert_to_hf(model_dir: str, output: str):
    done = subprocess.run([sys.executable, "-m", "albert_tf.cli.convert", "--input", model_dir,
                           "--output_format", "hf", "--output", output], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"albert-convert failed:\n{done.stderr}")


def oracle_outputs(case: str, hf_dir: str, batch) -> dict:
    import torch  # pylint: disable=import-outside-toplevel
    import transformers  # pylint: disable=import-outside-toplevel

    cls = (transformers.AlbertForQuestionAnswering if case == "squad"
           else transformers.AlbertForSequenceClassification)
    model = cls.from_pretrained(hf_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(**{k: torch.tensor(v) for k, v in batch.items()})
    if case == "squad":
        return {"start_logits": out.start_logits.numpy().tolist(), "end_logits": out.end_logits.numpy().tolist()}
    return {"logits": out.logits.numpy().tolist(), "id2label": {str(k): v for k, v in model.config.id2label.items()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "hf_heads"))
    args = parser.parse_args()
    import torch  # pylint: disable=import-outside-toplevel
    import transformers  # pylint: disable=import-outside-toplevel

    os.makedirs(args.out, exist_ok=True)
    batch = padded_batch()
    with tempfile.TemporaryDirectory() as work:
        for case in CASES:
            model_dir, hf_dir = os.path.join(work, case), os.path.join(work, f"{case}_hf")
            build_model_directory(case, model_dir)
            convert_to_hf(model_dir, hf_dir)
            golden = {"case": case, "inputs": batch, **oracle_outputs(case, hf_dir, batch)}
            with open(os.path.join(args.out, f"{case}.json"), "w", encoding="utf-8") as handle:
                json.dump(golden, handle, indent=1)
                handle.write("\n")
            print(f"wrote {case}.json")
    with open(os.path.join(args.out, "VERSIONS.json"), "w", encoding="utf-8") as handle:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0]}, handle,
                  indent=2)
        handle.write("\n")


if __name__ == "__main__":
    main()
