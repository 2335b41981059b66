"""Regenerate the direct-use golden values from Hugging Face transformers (the oracle).

For an English (SentencePiece) and a Chinese (WordPiece) case this builds a tiny
`transformers.AlbertForPreTraining` with randomized weights, saves it as `model.safetensors` +
`config.json` next to its vocabulary, and records what transformers computes on the same weights:
- `pipeline("fill-mask")` (AlbertForMaskedLM + the slow tokenizer): top-5 token ids and scores per mask;
- `AlbertModel`: the [CLS] vector and the attention-masked mean of `last_hidden_state`, one text at a time;
- `AlbertForPreTraining`: softmax of the SOP logits, column 0 (original order);
- the token ids the oracle's tokenizer gives each text, so a tokenization difference shows as such.
The tests (`tests/test_inference_oracle.py`) then need no torch.

Usage (needs the `oracle` extra: transformers<5, torch==2.13.0):
    python tools/make_direct_use_fixtures.py --out tests/fixtures/direct_use
"""

import argparse
import json
import os
import random
import shutil
import sys

import numpy as np
import torch
import transformers

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                                "tokenization"))
import tokenization_testlib as testlib  # noqa: E402

CONFIG = dict(embedding_size=16, hidden_size=32, num_attention_heads=4, intermediate_size=48, num_hidden_layers=2,
              num_hidden_groups=1, inner_group_num=1, max_position_embeddings=64, type_vocab_size=2,
              hidden_act="gelu_new", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
              classifier_dropout_prob=0.0, layer_norm_eps=1e-12)
TOP_K = 5


def build_model(vocab_size, seed, special_ids):
    torch.manual_seed(seed)
    config = transformers.AlbertConfig(vocab_size=vocab_size, pad_token_id=special_ids["pad"], **CONFIG)
    config._attn_implementation = "eager"
    model = transformers.AlbertForPreTraining(config)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith("LayerNorm.weight"):
                param.copy_(1.0 + 0.1 * noise)
            else:
                param.copy_((0.1 if param.ndim == 1 else 0.3) * noise)
    return model.eval()


def masked_texts(seed, chinese):
    """Corpus lines with one word (English) or one character (Chinese) masked; a few with two masks."""
    rng = random.Random(seed)
    out = []
    for line in testlib.corpus_lines(30, seed=seed):
        if chinese:
            chars = [i for i, c in enumerate(line) if "\u4e00" <= c <= "\u9fff"]
            if not chars:
                line = line + " 我们今天天气很好"
                chars = [i for i, c in enumerate(line) if "\u4e00" <= c <= "\u9fff"]
            picks = sorted(rng.sample(chars, min(len(chars), 1 + (len(out) % 4 == 0))), reverse=True)
            for i in picks:
                line = line[:i] + "[MASK]" + line[i + 1:]
        else:
            words = line.split(" ")
            for i in rng.sample(range(len(words)), 1 + (len(out) % 4 == 0)):
                words[i] = "[MASK]"
            line = " ".join(words)
        out.append(line)
    return out


def fill_mask_golden(directory, tokenizer, texts):
    mlm = transformers.AlbertForMaskedLM.from_pretrained(directory, attn_implementation="eager").eval()
    fill = transformers.pipeline("fill-mask", model=mlm, tokenizer=tokenizer, device="cpu")
    ids, scores = [], []
    for text in texts:
        result = fill(text, top_k=TOP_K)
        per_mask = result if isinstance(result[0], list) else [result]
        ids.append([[r["token"] for r in m] for m in per_mask])
        scores.append([[r["score"] for r in m] for m in per_mask])
    return ids, scores


def embedding_golden(model, tokenizer, texts):
    cls, mean = [], []
    with torch.no_grad():
        for text in texts:
            enc = tokenizer(text, return_tensors="pt")
            hidden = model.albert(**enc).last_hidden_state[0]
            mask = enc["attention_mask"][0, :, None].float()
            cls.append(hidden[0].numpy())
            mean.append(((hidden * mask).sum(0) / mask.sum()).numpy())
    return np.stack(cls), np.stack(mean)


def sop_golden(model, tokenizer, pairs):
    out = []
    with torch.no_grad():
        for a, b in pairs:
            logits = model(**tokenizer(a, b, return_tensors="pt")).sop_logits
            out.append(torch.softmax(logits, -1)[0, 0].item())
    return np.array(out, np.float32)


def write_case(directory, kind, seed):
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    if kind == "sentencepiece":
        model_file = testlib.build_spm_model(directory)
        for leftover in ("spm_corpus.txt", "tiny.vocab"):
            os.remove(os.path.join(directory, leftover))
        tokenizer = transformers.AlbertTokenizer(str(model_file), do_lower_case=True, keep_accents=False)
    else:
        tokenizer = transformers.BertTokenizer(str(testlib.build_vocab(directory)), do_lower_case=True)
    special = {"pad": tokenizer.pad_token_id}
    model = build_model(len(tokenizer), seed, special)
    model.save_pretrained(directory, safe_serialization=True)
    texts = masked_texts(seed, chinese=kind == "wordpiece")
    plain = [t.replace("[MASK]", "") for t in texts]
    ids, scores = fill_mask_golden(directory, tokenizer, texts)
    cls, mean = embedding_golden(model, tokenizer, plain)
    pairs = list(zip(plain[::2], plain[1::2]))
    golden = {
        "texts": texts, "fill_mask_ids": ids, "fill_mask_scores": scores,
        "oracle_token_ids": [tokenizer(t)["input_ids"] for t in texts],
        "embed_texts": plain, "cls": cls.tolist(), "mean": mean.tolist(),
        "sop_pairs": pairs, "sop_in_order": sop_golden(model, tokenizer, pairs).tolist(),
    }
    with open(os.path.join(directory, "golden.json"), "w", encoding="utf-8") as handle:
        json.dump(golden, handle, ensure_ascii=False)
    print(f"{directory}: {len(texts)} masked texts; wrote {sorted(os.listdir(directory))}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/direct_use")
    args = parser.parse_args()
    write_case(os.path.join(args.out, "en"), "sentencepiece", seed=41)
    write_case(os.path.join(args.out, "zh"), "wordpiece", seed=43)
    with open(os.path.join(args.out, "VERSIONS.json"), "w") as handle:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0]}, handle,
                  indent=2)


if __name__ == "__main__":
    main()
