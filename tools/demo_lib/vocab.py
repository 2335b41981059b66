"""A small SentencePiece model in ALBERT's format, trained on the demo corpus."""

import collections
import io
import os

import sentencepiece as spm

# ALBERT's ids: <pad> 0, <unk> 1, then the control symbols [CLS] 2, [SEP] 3, [MASK] 4
# (albert_tf's SentencePieceTokenizer looks these pieces up by name).
ALBERT_SPECIALS = dict(pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"])
WORD_BOUNDARY = "\u2581"


def _seed_pieces(lines, path, max_length=16):
    """Every substring of every word, scored frequency x length (what SentencePiece's own miner
    scores). The miner keeps only substrings shared by two word types, so in a small corpus with a
    closed vocabulary most whole words would never become pieces; giving the seeds avoids that."""
    words = collections.Counter(word for line in lines for word in line.split())
    seeds = collections.Counter()
    for word, count in words.items():
        word = WORD_BOUNDARY + word
        for i in range(len(word)):
            for j in range(i + 2, min(len(word), i + max_length) + 1):
                seeds[word[i:j]] += count * (j - i)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{piece}\t{score}\n" for piece, score in sorted(seeds.items(), key=lambda kv: (-kv[1], kv[0])))


def train(corpus_path, model_path, vocab_size):
    """Trains a unigram model on the lowercased corpus (the tokenizer lowercases before the model).
    Returns the number of pieces (at most `vocab_size`; fewer when the corpus has fewer words)."""
    with open(corpus_path, encoding="utf-8") as f:
        lines = [line.strip().lower() for line in f if line.strip()]
    seeds_path = model_path + ".seeds.tsv"
    _seed_pieces(lines, seeds_path)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="unigram", vocab_size=vocab_size,
        hard_vocab_limit=False, character_coverage=1.0, seed_sentencepieces_file=seeds_path,
        num_threads=2, minloglevel=2, **ALBERT_SPECIALS)
    os.remove(seeds_path)
    with open(model_path, "wb") as f:
        f.write(model.getvalue())
    return spm.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size()
