"""Convert a SentencePiece .vocab (ALBERT 30k-clean) into a BERT WordPiece vocab.txt.

Gives TF Model Garden's WordPiece `create_pretraining_data.py` (BERT FullTokenizer) a
vocabulary of the same size and pieces as the SentencePiece model, so that it does
comparable work on the same corpus:

  * `[PAD] [UNK] [CLS] [SEP] [MASK]` first (SentencePiece's `<pad>`/`<unk>` map onto them);
  * a piece starting with "▁" becomes a whole word (the "▁" stripped; a bare "▁" is dropped);
  * any other piece becomes "##piece";
  * duplicates are dropped, first occurrence wins.

With `--char-words`, every single-character continuation piece is also added as a whole word
(BERT vocabularies carry each character in both forms; without it a punctuation mark that
BERT's BasicTokenizer splits off has no whole-word entry and becomes [UNK]).

`--check-corpus GLOB` (run with the Model Garden venv's Python, which has `official` and
`sentencepiece`) tokenizes a corpus both ways and prints tokens per MB and the [UNK] rate.

Usage:
  python bench/peers/spm_vocab_to_wordpiece.py SPM.vocab OUT/vocab.txt [--char-words]
      [--check-corpus 'DIR/*.txt' --spm-model SPM.model]
"""

import argparse
import glob
import os
import sys
import time

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SPM_SPECIALS = {"<pad>": "[PAD]", "<unk>": "[UNK]", "[CLS]": "[CLS]", "[SEP]": "[SEP]",
                "[MASK]": "[MASK]"}
WORD_START = "\u2581"


def convert(spm_vocab_path, char_words=False):
    out, seen = [], set()

    def add(tok):
        if tok and tok not in seen and not any(c.isspace() for c in tok):
            seen.add(tok)
            out.append(tok)

    for tok in SPECIALS:
        add(tok)
    pieces = []
    with open(spm_vocab_path, encoding="utf-8") as f:
        for line in f:
            piece = line.rstrip("\n").split("\t", 1)[0]
            if piece:
                pieces.append(piece)
    extra_words = []
    for piece in pieces:
        if piece in SPM_SPECIALS:
            add(SPM_SPECIALS[piece])
        elif piece.startswith("<") and piece.endswith(">"):
            continue  # other control symbols
        elif piece.startswith(WORD_START):
            add(piece[len(WORD_START):])
        else:
            add("##" + piece)
            if char_words and len(piece) == 1:
                extra_words.append(piece)
    for piece in extra_words:
        add(piece)
    return out


def check_corpus(pattern, vocab_txt, spm_model, do_lower_case=True):
    from official.nlp.tools import tokenization  # Model Garden venv only

    files = sorted(f for p in pattern.split(",") for f in glob.glob(p))
    lines = []
    nbytes = 0
    for path in files:
        nbytes += os.path.getsize(path)
        with open(path, "rb") as f:
            lines.extend(f.readlines())
    mb = nbytes / 1e6
    wp = tokenization.FullTokenizer(vocab_file=vocab_txt, do_lower_case=do_lower_case)
    sp = tokenization.FullSentencePieceTokenizer(spm_model)
    sp_unk = sp.sp_model.unk_id()
    rows = []
    for name, tok, is_sp in (("WordPiece (converted vocab)", wp, False),
                             ("SentencePiece (30k-clean.model)", sp, True)):
        t0 = time.perf_counter()
        n = unk = 0
        for raw in lines:
            text = tokenization.convert_to_unicode(raw)
            if is_sp:
                text = tokenization.preprocess_text(text, lower=do_lower_case)
            toks = tok.tokenize(text.strip())
            n += len(toks)
            if is_sp:  # unknown characters come back as raw pieces: look up their ids
                unk += sum(1 for i in tok.convert_tokens_to_ids(toks) if i == sp_unk)
            else:
                unk += sum(1 for t in toks if t == "[UNK]")
        dt = time.perf_counter() - t0
        rows.append((name, n, n / mb, unk / max(n, 1), dt))
    print(f"corpus: {len(files)} files, {nbytes:,} bytes ({mb:.2f} MB), {len(lines):,} lines")
    print("| tokenizer | tokens | tokens/MB | [UNK] share | seconds |")
    print("|---|---:|---:|---:|---:|")
    for name, n, per_mb, unk_share, dt in rows:
        print(f"| {name} | {n:,} | {per_mb:,.0f} | {unk_share:.2%} | {dt:.1f} |")
    print(f"ratio WordPiece/SentencePiece tokens: {rows[0][1] / rows[1][1]:.3f}")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spm_vocab")
    ap.add_argument("out_vocab")
    ap.add_argument("--char-words", action="store_true",
                    help="also add single-character continuation pieces as whole words")
    ap.add_argument("--check-corpus", default=None,
                    help="glob (or comma list) to compare token counts on")
    ap.add_argument("--spm-model", default=None, help="SentencePiece .model for --check-corpus")
    args = ap.parse_args(argv)

    vocab = convert(args.spm_vocab, char_words=args.char_words)
    os.makedirs(os.path.dirname(os.path.abspath(args.out_vocab)), exist_ok=True)
    tmp = args.out_vocab + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for tok in vocab:
            f.write(tok + "\n")
    os.replace(tmp, args.out_vocab)
    n_words = sum(1 for t in vocab if not t.startswith("##") and t not in SPECIALS)
    print(f"wrote {args.out_vocab}: {len(vocab)} entries "
          f"({n_words} words, {len(vocab) - n_words - len(SPECIALS)} ##pieces)", file=sys.stderr)
    if args.check_corpus:
        if not args.spm_model:
            ap.error("--check-corpus needs --spm-model")
        check_corpus(args.check_corpus, args.out_vocab, args.spm_model)


if __name__ == "__main__":
    main()
