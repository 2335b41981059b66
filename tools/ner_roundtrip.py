"""Gold round trip of NER files: gold tags → windows of pieces → one-hot logits from the label ids →
`merge_windows` → entities, against the gold entities. What is lost here is lost by tokenization or
windowing, never by a model; every miss is printed with its reason.

  python tools/ner_roundtrip.py --file ../shared/realdata/ner/conll2003/dev.txt \
      --spm ../shared/realdata/assets/albert_en_spm/30k-clean.model
  python tools/ner_roundtrip.py --file ../shared/realdata/ner/cluener/dev.json \
      --vocab ../shared/realdata/assets/albert_zh/vocab.txt --compare_text

`--compare_text` also measures tokenizing each sentence as a whole ("text") instead of word by word
("words", what training uses), which is how the word units of CLUENER were chosen. Also checks that
CLUENER's span F1 of the round-trip predictions equals the seqeval entity F1.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.ner import features, metrics, reading, schemes  # noqa: E402
from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer  # noqa: E402


def run(sentences, tokenizer, max_seq_length, stride, pieces_from):
    start = time.time()
    result = features.gold_round_trip(sentences, tokenizer, max_seq_length, stride, pieces_from=pieces_from)
    stats = result["stats"]
    share = result["recovered"] / result["total"] if result["total"] else 1.0
    print(f"[pieces from {pieces_from}] recovered {result['recovered']} / {result['total']} entities "
          f"({100 * share:.3f}%) in {time.time() - start:.1f} s; {stats['sentences']} sentences, "
          f"{stats['split_sentences']} split into windows, {stats['words']} words, {stats['pieces']} pieces, "
          f"{stats['inside_words']} words inside another word's piece, {stats['empty_words']} words without "
          f"pieces, {stats['pieces_across_words']} pieces across words")
    for example in stats["empty_word_examples"]:
        print(f"  word without pieces: {example}")
    for miss in result["misses"]:
        print(f"  MISS {miss}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", required=True, help="CoNLL column file or CLUENER json lines")
    parser.add_argument("--spm", help="SentencePiece .model (English)")
    parser.add_argument("--vocab", help="WordPiece vocab.txt (Chinese)")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--stride", type=int, default=64, help="pieces between window starts")
    parser.add_argument("--sentences", type=int, default=0, help="only the first N sentences (0: all)")
    parser.add_argument("--compare_text", action="store_true", help="also tokenize whole sentences")
    parser.add_argument("--min_recovered", type=float, default=0.999, help="exit 1 below this share")
    parser.add_argument("--nested", choices=["refuse", "outer"], default="refuse",
                        help="CLUENER spans nested in another span: refuse the file, or keep the outer span")
    args = parser.parse_args()
    if bool(args.spm) == bool(args.vocab):
        parser.error("give exactly one of --spm and --vocab")
    tokenizer = SentencePieceTokenizer(args.spm) if args.spm else WordPieceTokenizer(args.vocab)
    sentences = reading.read_ner_file(args.file, nested=args.nested)
    if args.sentences:
        sentences = sentences[:args.sentences]
    result = run(sentences, tokenizer, args.max_seq_length, args.stride, "words")
    if args.compare_text:
        run(sentences, tokenizer, args.max_seq_length, args.stride, "text")
    gold = [s.tags for s in sentences]
    perturbed = [tags[:1] + ["O"] * (len(tags) - 1) if i % 3 == 0 else tags for i, tags in enumerate(gold)]
    entity = metrics.entity_scores(gold, perturbed)
    span = metrics.span_scores([metrics.char_spans(s, s.tags) for s in sentences],
                               [metrics.char_spans(s, t) for s, t in zip(sentences, perturbed)])
    print(f"entity F1 (seqeval) {entity['f1']:.12f} vs span F1 {span['f1']:.12f} on gold with every third "
          f"sentence cut to its first tag ({sum(len(schemes.entities(t)) for t in perturbed)} entities left)")
    share = result["recovered"] / result["total"] if result["total"] else 1.0
    return 0 if share >= args.min_recovered and abs(entity["f1"] - span["f1"]) < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
