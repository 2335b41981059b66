"""Gold-span round trip on a SQuAD-format file: features → logits selecting each window's gold span
→ decode → official evaluation. What is lost here is lost by the pipeline, never by a model: answers
whose character boundaries fall inside a token, answers longer than `--max_answer_length` tokens
(the decoder never proposes them), and gold spans that no window holds with max context.

  python tools/squad_roundtrip.py --squad ../shared/realdata/squad/dev-v1.1.json \
      --spm ../shared/realdata/assets/albert_en_spm/30k-clean.model
  python tools/squad_roundtrip.py ... --as_v2 0.3   # a v2-format variant: 30% of questions made unanswerable
  python tools/squad_roundtrip.py --version 2.0 --squad dev-v2.0.json --spm ...   # a SQuAD 2.0 file

Prints exact EM/F1 (and, for v2, the null accuracy) for both decoders (span logits, XLNet-style beam),
and how many questions have a gold answer longer than `--max_answer_length`.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.squad import features, reading  # noqa: E402
from albert_tf.squad import evaluation, scoring  # noqa: E402
from albert_tf.squad.roundtrip import first_token_predictions, make_unanswerable, round_trip  # noqa: E402
from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", required=True)
    parser.add_argument("--version", choices=["1.1", "2.0"], default="1.1",
                        help="SQuAD version of the file (2.0: unanswerable questions allowed)")
    parser.add_argument("--spm", help="SentencePiece .model (English)")
    parser.add_argument("--vocab", help="WordPiece vocab.txt (Chinese)")
    parser.add_argument("--max_seq_length", type=int, default=384)
    parser.add_argument("--doc_stride", type=int, default=128)
    parser.add_argument("--max_query_length", type=int, default=64)
    parser.add_argument("--max_answer_length", type=int, default=30, help="longest answer the decoder proposes")
    parser.add_argument("--articles", type=int, default=0, help="only the first N articles (0: all)")
    parser.add_argument("--as_v2", type=float, default=0.0,
                        help="make this fraction of questions unanswerable (a 1.1 file only)")
    args = parser.parse_args()
    if args.as_v2 and args.version != "1.1":
        parser.error("--as_v2 makes a v2 variant of a 1.1 file; a 2.0 file already has unanswerable questions")
    tokenizer = SentencePieceTokenizer(args.spm) if args.spm else WordPieceTokenizer(args.vocab)
    examples, report = reading.read_squad(args.squad, args.version, training=False)
    if args.articles:
        data = reading.load_json(args.squad)
        keep = {str(qa["id"]) for article in data["data"][:args.articles] for p in article["paragraphs"]
                for qa in p["qas"]}
        examples = [e for e in examples if e.qas_id in keep]
    version = args.version
    if args.as_v2:
        examples, version = make_unanswerable(examples, args.as_v2), "2.0"
    print(f"{len(examples)} questions ({sum(e.is_impossible for e in examples)} unanswerable), "
          f"{len(report.misaligned)} with a misaligned answer_start")
    long_answers = scoring.long_answer_warning(examples, tokenizer, args.max_answer_length, args.squad)
    print(long_answers or f"no gold answer is longer than --max_answer_length={args.max_answer_length} tokens")
    started = time.time()
    feats = features.convert_examples(examples, tokenizer, args.max_seq_length, args.doc_stride,
                                      args.max_query_length)
    print(f"{len(feats)} windows in {time.time() - started:.1f}s; stats: "
          f"{ {k: v for k, v in feats.stats.items() if not k.endswith('_ids')} }")
    if version == "1.1":
        baseline = evaluation.evaluate_v1(evaluation.gold_answers_from_examples(examples),
                                          first_token_predictions(examples, feats))
        print(f"[first-token baseline] exact_match={baseline['exact_match']:.4f}  f1={baseline['f1']:.4f}")
    for head in ("span", "beam"):
        result = round_trip(examples, feats, version, head, args.max_answer_length)
        print(f"[{head}] " + "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in result.items()))


if __name__ == "__main__":
    main()
