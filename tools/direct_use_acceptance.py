"""Does a tiny pretrained ALBERT learn anything usable directly? Fill-mask, sentence order and embeddings.

Pretrains two tiny models with run_pretraining.py (tools/pretrain_acceptance.py does the split, records
and training): English on tiny-shakespeare with the English SentencePiece model, Chinese on the
CLUECorpusSmall sample with the Chinese WordPiece vocab. Each model's export (`model/pretrained/`) is
then used only through `albert_tf.inference.PretrainedAlbert`:

- held-out masked words: one random whole word (a single piece) per held-out line becomes `[MASK]`;
  top-5 accuracy of `fill_mask` against always proposing the 5 most frequent training tokens (the
  acceptance check), and, stricter, the model's 5 best whole-word candidates against the 5 most
  frequent whole words in training (punctuation, which a mask here never hides, skipped on both sides);
- held-out sentence order: each held-out document with two or more lines is cut in the middle and
  scored in both orders by `sentence_order` (accuracy at 0.5);
- embeddings: mean-pooled cosine of `embed` on STS-B dev (Spearman vs the gold score) and LCQMC test
  (ROC AUC and accuracy at the best threshold vs the label), next to a bag-of-words cosine and the
  same model with untrained weights.

Prints a markdown table and writes `<workdir>/direct_use_acceptance.json`.

  python tools/direct_use_acceptance.py --workdir /tmp/albert_tf_direct_use_acceptance
"""

import argparse
import collections
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))
import pretrain_acceptance  # noqa: E402  pylint: disable=wrong-import-position

REALDATA = pretrain_acceptance.REALDATA
TOP_K = 5
CANDIDATES = 100
CORPORA = {  # language: (text, tokenizer flag of make_records, vocab size, dupe factor)
    "en": ("text/en/tinyshakespeare.txt", "spm_model", "assets/albert_en_spm/30k-clean.model", 30000, 5),
    "zh": ("text/zh/CLUECorpusSmall_bert_sampled.txt", "vocab_file", "assets/albert_zh/vocab.txt", 21128, 2),
}


# === Training (tools/pretrain_acceptance.py) ===
def train_model(workdir: Path, language: str, steps: int, batch_size: int, learning_rate: float) -> Path:
    """Split, records and training of one language in `<workdir>/<language>`; returns the export."""
    text, flag, vocab, vocab_size, dupe_factor = CORPORA[language]
    root = workdir / language
    root.mkdir(parents=True, exist_ok=True)
    pretrain_acceptance.split_corpus(REALDATA / text, root, heldout_fraction=0.1)
    tokenizer = {flag: REALDATA / vocab}
    pretrain_acceptance.make_records(root, "train", dupe_factor, **tokenizer)
    pretrain_acceptance.make_records(root, "heldout", 1, **tokenizer)
    config = dict(pretrain_acceptance.TINY, vocab_size=vocab_size)
    pretrain_acceptance.pretrain(root, config, steps, batch_size, learning_rate)
    return root / "model" / "pretrained"


# === Held-out data ===
def words_of(line: str, language: str):
    """The units one mask replaces: whitespace words in English, characters in Chinese."""
    return line.split() if language == "en" else list(line.strip())


def join_words(words, language: str) -> str:
    return " ".join(words) if language == "en" else "".join(words)


def is_maskable(word: str, language: str) -> bool:
    """Letters only (English) or one CJK character (Chinese): punctuation is never the answer."""
    return word.isalpha() if language == "en" else bool(re.fullmatch(r"[\u4e00-\u9fff]", word))


def single_piece_id(tokenizer, word: str, cache: dict):
    """The word's id when the tokenizer keeps it whole (known, one piece), else None."""
    if word not in cache:
        ids = tokenizer.encode(word)
        cache[word] = ids[0] if len(ids) == 1 and ids[0] != tokenizer.unk_id else None
    return cache[word]


def masked_lines(lines, tokenizer, language: str, *, rng, max_words: int, min_words: int = 4, limit: int):
    """(text with one `[MASK]`, gold id) per line that has a maskable single-piece word: one such word,
    drawn at random, becomes `[MASK]`. Lines are cut to `max_words` so the mask stays in the model's window."""
    cache, out = {}, []
    for line in lines:
        words = words_of(line, language)[:max_words]
        if len(words) < min_words:
            continue
        choices = [i for i, w in enumerate(words) if is_maskable(w, language)
                   and single_piece_id(tokenizer, w, cache) is not None]
        if not choices:
            continue
        i = rng.choice(choices)
        gold = single_piece_id(tokenizer, words[i], cache)
        out.append((join_words(words[:i] + ["[MASK]"] + words[i + 1:], language), gold))
        if len(out) == limit:
            break
    return out


def unigram_top_k(lines, tokenizer, language: str, k: int = TOP_K, words_only: bool = True):
    """The k ids seen most often in `lines`: the baseline that proposes them for every mask. With
    `words_only`, among maskable single-piece words (what the held-out masks hide); else among all
    tokens the tokenizer makes (punctuation included)."""
    cache, counts = {}, collections.Counter()
    for line in lines:
        if not words_only:
            counts.update(tokenizer.encode(line))
            continue
        for word in words_of(line, language):
            if is_maskable(word, language):
                token = single_piece_id(tokenizer, word, cache)
                if token is not None:
                    counts[token] += 1
    return [token for token, _ in counts.most_common(k)]


def is_word_piece(token: str, language: str) -> bool:
    """A vocabulary entry that can be the answer: `▁` + letters (SentencePiece) or one CJK character."""
    if language == "en":
        return token.startswith("\u2581") and is_maskable(token[1:], language)
    return is_maskable(token, language)


def top_word_ids(predictions, tokens, language: str, k: int = TOP_K):
    """The model's k best candidates that are whole words (its ranking with punctuation and word pieces
    skipped), for a comparison on equal terms with the words-only unigram."""
    return [p.token_id for p in predictions if is_word_piece(tokens[p.token_id], language)][:k]


def document_pairs(text: str, language: str, limit: int):
    """(first half, second half) of each document (blank-line separated) with two or more lines."""
    pairs = []
    for document in text.split("\n\n"):
        lines = [line.strip() for line in document.split("\n") if line.strip()]
        if len(lines) >= 2:
            cut = len(lines) // 2
            pairs.append((join_words(lines[:cut], language), join_words(lines[cut:], language)))
        if len(pairs) == limit:
            break
    return pairs


def read_sts_b(path: Path):
    """STS-B dev: (sentence1, sentence2, score); every row must have the header's columns."""
    rows = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    header = rows[0].split("\t")
    a, b, score = header.index("sentence1"), header.index("sentence2"), header.index("score")
    out = []
    for number, row in enumerate(rows[1:], start=2):
        fields = row.split("\t")
        if len(fields) != len(header):
            raise ValueError(f"{path}:{number}: {len(fields)} columns, the header has {len(header)}")
        out.append((fields[a], fields[b], float(fields[score])))
    return out


def read_lcqmc(path: Path):
    """LCQMC: (text_a, text_b, label 0/1) per line."""
    out = []
    for number, row in enumerate(path.read_text(encoding="utf-8").rstrip("\n").split("\n"), start=1):
        fields = row.split("\t")
        if len(fields) != 3 or fields[2] not in ("0", "1"):
            raise ValueError(f"{path}:{number}: expected text_a<TAB>text_b<TAB>0|1, got {row[:80]!r}")
        out.append((fields[0], fields[1], int(fields[2])))
    return out


# === Scores ===
def bag_of_words_cosine(a: str, b: str, language: str) -> float:
    """Cosine of the two texts' word counts (lowercased words in English, characters in Chinese)."""
    pattern = r"\w+" if language == "en" else r"\w"
    ca, cb = (collections.Counter(re.findall(pattern, t.lower())) for t in (a, b))
    dot = sum(n * cb[w] for w, n in ca.items())
    norm = np.sqrt(sum(n * n for n in ca.values()) * sum(n * n for n in cb.values()))
    return float(dot / norm) if norm else 0.0


def roc_auc(scores, labels) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    from scipy import stats  # pylint: disable=import-outside-toplevel
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    ranks = stats.rankdata(scores)  # ties get their average rank
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def best_threshold_accuracy(scores, labels):
    """(accuracy, threshold) of the best rule `label = score >= threshold` over all thresholds."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    # Predicting the top i as positive: correct = positives among them + negatives below them.
    true_positives = np.concatenate([[0], np.cumsum(y)])
    negatives_below = (~y).sum() - np.concatenate([[0], np.cumsum(~y)])
    correct = true_positives + negatives_below
    cuts = [0] + [i for i in range(1, len(s)) if s[i] != s[i - 1]] + [len(s)]  # never split tied scores
    best = max(cuts, key=lambda i: correct[i])
    threshold = float(s[best - 1]) if best else float("inf")
    return float(correct[best] / len(s)), threshold


def spearman(scores, gold) -> float:
    from albert_tf.finetuning import metrics  # pylint: disable=import-outside-toplevel
    return metrics.regression_metrics(np.asarray(scores), np.asarray(gold))[metrics.SPEARMAN]


def random_init_twin(albert):
    """The same shape and tokenizer with untrained weights: how much of a cosine score pretraining adds."""
    from albert_tf.inference import PretrainedAlbert  # pylint: disable=import-outside-toplevel
    from albert_tf.modeling.encoder import AlbertEncoder  # pylint: disable=import-outside-toplevel
    from albert_tf.modeling.models import AlbertPretrainer  # pylint: disable=import-outside-toplevel
    import keras  # pylint: disable=import-outside-toplevel
    keras.utils.set_random_seed(0)  # the same untrained weights every run
    return PretrainedAlbert(AlbertPretrainer(AlbertEncoder(albert.encoder.albert_config)), albert.tokenizer,
                            max_seq_length=albert.max_seq_length, batch_size=albert.batch_size)


def mean_cosines(albert, texts_a, texts_b) -> np.ndarray:
    a = albert.embed(texts_a, pooling="mean", normalize=True)
    b = albert.embed(texts_b, pooling="mean", normalize=True)
    return np.sum(a * b, axis=1)


# === Evaluation through the public API ===
def evaluate_language(export: Path, root: Path, language: str, *, seed: int, limit: int) -> dict:
    from albert_tf.inference import PretrainedAlbert  # pylint: disable=import-outside-toplevel
    albert = PretrainedAlbert.load(str(export), max_seq_length=128, batch_size=64)
    rng = random.Random(seed)
    train_lines = (root / "train.txt").read_text(encoding="utf-8").split("\n")
    heldout_text = (root / "heldout.txt").read_text(encoding="utf-8")
    heldout_lines = heldout_text.split("\n")
    rng.shuffle(heldout_lines)
    result = {"language": language, "export": str(export)}

    masked = masked_lines(heldout_lines, albert.tokenizer, language, rng=rng,
                          max_words=40 if language == "en" else 100, limit=limit)
    tokens = albert.tokenizer.convert_ids_to_tokens(list(range(albert.tokenizer.vocab_size)))
    # Deep enough in the ranking to find five whole words after the punctuation a small model favours.
    predictions = [p[0] for p in albert.fill_mask([text for text, _ in masked], top_k=CANDIDATES)]
    gold = [g for _, g in masked]
    all_tokens = set(unigram_top_k(train_lines, albert.tokenizer, language, words_only=False))
    words = set(unigram_top_k(train_lines, albert.tokenizer, language))
    result["masked_words"] = {
        "n": len(masked),
        "top5_accuracy": float(np.mean([g in {p.token_id for p in ps[:TOP_K]} for g, ps in zip(gold, predictions)])),
        "unigram_top5_accuracy": float(np.mean([g in all_tokens for g in gold])),
        "unigram_top5": albert.tokenizer.convert_ids_to_tokens(sorted(all_tokens)),
        "word_top5_accuracy": float(np.mean([g in top_word_ids(ps, tokens, language)
                                             for g, ps in zip(gold, predictions)])),
        "word_unigram_top5_accuracy": float(np.mean([g in words for g in gold])),
        "word_unigram_top5": albert.tokenizer.convert_ids_to_tokens(sorted(words))}

    pairs = document_pairs(heldout_text, language, limit)
    in_order = albert.sentence_order([a for a, _ in pairs], [b for _, b in pairs])
    swapped = albert.sentence_order([b for _, b in pairs], [a for a, _ in pairs])
    result["sentence_order"] = {"pairs": len(pairs), "accuracy": float(np.mean(
        np.concatenate([in_order > 0.5, swapped <= 0.5])))}

    if language == "en":
        rows = read_sts_b(REALDATA / "glue/STS-B/dev.tsv")
        cosine = mean_cosines(albert, [r[0] for r in rows], [r[1] for r in rows])
        untrained = mean_cosines(random_init_twin(albert), [r[0] for r in rows], [r[1] for r in rows])
        bow = [bag_of_words_cosine(a, b, language) for a, b, _ in rows]
        gold = [r[2] for r in rows]
        result["sts_b_dev"] = {"n": len(rows), "spearman_mean_cosine": spearman(cosine, gold),
                               "spearman_bag_of_words": spearman(bow, gold),
                               "spearman_random_init": spearman(untrained, gold)}
    else:
        rows = read_lcqmc(REALDATA / "lcqmc/test.txt")
        cosine = mean_cosines(albert, [r[0] for r in rows], [r[1] for r in rows])
        untrained = mean_cosines(random_init_twin(albert), [r[0] for r in rows], [r[1] for r in rows])
        bow = [bag_of_words_cosine(a, b, language) for a, b, _ in rows]
        labels = [r[2] for r in rows]
        result["lcqmc_test"] = {"n": len(rows), "auc_mean_cosine": roc_auc(cosine, labels),
                                "auc_bag_of_words": roc_auc(bow, labels),
                                "auc_random_init": roc_auc(untrained, labels),
                                "accuracy_random_init": best_threshold_accuracy(untrained, labels)[0],
                                "accuracy_mean_cosine": best_threshold_accuracy(cosine, labels)[0],
                                "accuracy_bag_of_words": best_threshold_accuracy(bow, labels)[0]}
    return result


def markdown_table(results: dict) -> str:
    rows = ["| model | check | tiny ALBERT (direct use) | baseline |", "|---|---|---|---|"]
    for language, r in results["languages"].items():
        m, s = r["masked_words"], r["sentence_order"]
        unit = "word" if language == "en" else "character"
        rows.append(f"| {language}, {r['global_step']} steps | held-out masked {unit}s ({m['n']}), top-5 accuracy "
                    f"| {m['top5_accuracy']:.3f} | {m['unigram_top5_accuracy']:.3f} the 5 most frequent training "
                    "tokens |")
        rows.append(f"| {language} | the same, both sides proposing whole {unit}s only "
                    f"| {m['word_top5_accuracy']:.3f} | {m['word_unigram_top5_accuracy']:.3f} the 5 most frequent "
                    f"training {unit}s |")
        rows.append(f"| {language} | held-out sentence order ({s['pairs']} documents, both orders), accuracy "
                    f"| {s['accuracy']:.3f} | 0.500 chance |")
        if "sts_b_dev" in r:
            t = r["sts_b_dev"]
            rows.append(f"| {language} | STS-B dev ({t['n']} pairs), Spearman of mean-pooled cosine "
                        f"| {t['spearman_mean_cosine']:.3f} | {t['spearman_bag_of_words']:.3f} bag-of-words cosine; "
                        f"{t['spearman_random_init']:.3f} same model untrained |")
        if "lcqmc_test" in r:
            t = r["lcqmc_test"]
            rows.append(f"| {language} | LCQMC test ({t['n']} pairs), ROC AUC of mean-pooled cosine "
                        f"| {t['auc_mean_cosine']:.3f} | {t['auc_bag_of_words']:.3f} bag-of-characters cosine; "
                        f"{t['auc_random_init']:.3f} same model untrained |")
            rows.append(f"| {language} | LCQMC test, accuracy at the best cosine threshold "
                        f"| {t['accuracy_mean_cosine']:.3f} | {t['accuracy_bag_of_words']:.3f} bag-of-characters; "
                        f"{t['accuracy_random_init']:.3f} untrained |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="/tmp/albert_tf_direct_use_acceptance")
    parser.add_argument("--en_steps", type=int, default=1200)
    parser.add_argument("--zh_steps", type=int, default=600)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=2e-3)
    parser.add_argument("--limit", type=int, default=2000, help="most masked lines / document pairs per language")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--reuse_models", action="store_true",
                        help="evaluate the models an earlier run trained in --workdir instead of training")
    args = parser.parse_args()
    for path in ("text/en/tinyshakespeare.txt", "glue/STS-B/dev.tsv", "lcqmc/test.txt"):
        if not (REALDATA / path).exists():
            sys.exit(f"missing {REALDATA / path}: this run needs the shared real data (set $ALBERT_TF_REALDATA)")
    workdir = Path(args.workdir)
    results = {"settings": vars(args), "languages": {}}
    for language, steps in (("en", args.en_steps), ("zh", args.zh_steps)):
        start = time.time()
        export = workdir / language / "model" / "pretrained"
        if not args.reuse_models:
            export = train_model(workdir, language, steps, args.batch_size, args.learning_rate)
        elif not export.is_dir():
            sys.exit(f"--reuse_models: no trained model in {export}")
        trained = time.time()
        result = evaluate_language(export, workdir / language, language, seed=args.seed, limit=args.limit)
        result["global_step"] = json.loads((workdir / language / "model" / "eval_results.json").read_text())[
            "global_step"]
        result["train_seconds"], result["eval_seconds"] = trained - start, time.time() - trained
        results["languages"][language] = result
    en = results["languages"]["en"]
    results["passed"] = {
        "masked_words_beat_unigram_top5": en["masked_words"]["top5_accuracy"] > en["masked_words"][
            "unigram_top5_accuracy"],
        "sentence_order_above_0.6": en["sentence_order"]["accuracy"] > 0.6}
    # Reported, not required: the stricter comparison on whole words only.
    results["whole_words_beat_word_unigram_top5"] = en["masked_words"]["word_top5_accuracy"] > en[
        "masked_words"]["word_unigram_top5_accuracy"]
    table = markdown_table(results)
    print(table)
    print(json.dumps(dict(results["passed"], whole_words_beat_word_unigram_top5=results[
        "whole_words_beat_word_unigram_top5"])))
    out = workdir / "direct_use_acceptance.json"
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    atomic_files.write_text(out, json.dumps(dict(results, table=table), indent=2, ensure_ascii=False))
    print(f"wrote {out}")
    sys.exit(0 if all(results["passed"].values()) else 1)


if __name__ == "__main__":
    main()
