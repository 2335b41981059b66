"""The train-lexicon baseline a NER model must beat: longest match of the training entities in the dev words.

Every entity of the training file becomes a lexicon entry (its words → its most frequent type). Dev
sentences are tagged left to right: at each word the longest lexicon entry that starts there is
tagged (IOB2), else the word is `O`. Scored like run_ner.py (`ner.metrics.entity_scores`, seqeval
strict IOB2), so the figure compares directly with a model's eval_results.json.

    python tools/ner_lexicon_baseline.py --train_file=train.txt --eval_file=dev.txt [--output=baseline.json]
        [--nested_entities=outer]   (CLUENER train)
"""

import argparse
import collections
import json
import os
import sys
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf.ner import metrics, reading, schemes  # noqa: E402

Key = Tuple[str, ...]


def build_lexicon(sentences: Sequence[reading.NerSentence]) -> Dict[Key, str]:
    """{entity words: most frequent type} over the training entities (ties: the type first seen)."""
    counts: Dict[Key, collections.Counter] = collections.defaultdict(collections.Counter)
    for sentence in sentences:
        for kind, start, end in schemes.entities(sentence.tags or ()):
            counts[tuple(sentence.words[start:end])][kind] += 1
    return {words: counter.most_common(1)[0][0] for words, counter in counts.items()}


def tag_longest_match(words: Sequence[str], lexicon: Dict[Key, str], longest: int) -> List[str]:
    tags, i = ["O"] * len(words), 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            kind = lexicon.get(tuple(words[i:i + n]))
            if kind is not None:
                tags[i:i + n] = [f"B-{kind}"] + [f"I-{kind}"] * (n - 1)
                i += n
                break
        else:
            i += 1
    return tags


def baseline(train_file: str, eval_file: str, scheme: str = "auto", nested: str = "refuse") -> Dict:
    train = reading.read_ner_file(train_file, scheme=scheme, labelled=True, nested=nested)
    dev = reading.read_ner_file(eval_file, scheme=scheme, labelled=True, nested=nested)
    lexicon = build_lexicon(train)
    longest = max((len(words) for words in lexicon), default=0)
    predicted = [tag_longest_match(sentence.words, lexicon, longest) for sentence in dev]
    scores = metrics.entity_scores([list(s.tags) for s in dev], predicted)
    return {"baseline": "train-lexicon longest match", "train_file": train_file, "eval_file": eval_file,
            "lexicon_entries": len(lexicon), **scores}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_file", required=True)
    parser.add_argument("--eval_file", required=True)
    parser.add_argument("--label_scheme", default="auto")
    parser.add_argument("--nested_entities", default="refuse", choices=["refuse", "outer"],
                        help="CLUENER spans nested in another span: refuse, or keep the outer one (as run_ner.py)")
    parser.add_argument("--output", help="also write the scores as json here")
    args = parser.parse_args()
    result = baseline(args.train_file, args.eval_file, args.label_scheme, args.nested_entities)
    print(f"{result['baseline']}: entity f1={result['f1']:.4f} precision={result['precision']:.4f} "
          f"recall={result['recall']:.4f} ({result['correct']}/{result['gold_entities']} gold entities, "
          f"{result['lexicon_entries']} lexicon entries)")
    if args.output:
        from albert_tf.training.artifacts import write_json  # pylint: disable=import-outside-toplevel
        write_json(args.output, result)


if __name__ == "__main__":
    main()
