"""Ask the exported SavedModels raw-text questions, with nothing but TensorFlow and tensorflow-text.

  python tools/demo_lib/serve.py --queries queries.json --classifier export/classifier \
      --squad export/squad --output answers.json

queries.json: {"pairs": [[text_a, text_b, expected], ...], "questions": [[question, context, expected], ...]}.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  (registers the in-graph tokenizer ops the models use)


def _text(values):
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.numpy().tolist()]


def classify(export_dir, pairs):
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    out = serve(text_a=tf.constant([p[0] for p in pairs]), text_b=tf.constant([p[1] for p in pairs]))
    labels, probabilities = _text(out["label"]), out["probabilities"].numpy()
    return [{"text_a": a, "text_b": b, "expected": expected, "label": label, "probability": float(max(p))}
            for (a, b, expected), label, p in zip(pairs, labels, probabilities)]


def answer(export_dir, questions):
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    out = serve(question=tf.constant([q[0] for q in questions]), context=tf.constant([q[1] for q in questions]))
    return [{"question": q, "expected": expected, "answer": a}
            for (q, _, expected), a in zip(questions, _text(out["answer"]))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", required=True)
    parser.add_argument("--classifier", required=True)
    parser.add_argument("--squad", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    with open(args.queries, encoding="utf-8") as f:
        queries = json.load(f)
    results = {"pairs": classify(args.classifier, queries["pairs"]),
               "questions": answer(args.squad, queries["questions"])}
    print(f"classifier SavedModel ({args.classifier}): does the sentence answer the question?")
    for r in results["pairs"]:
        print(f"  {r['text_a']!r} / {r['text_b']!r} -> label {r['label']} (p={r['probability']:.2f}; "
              f"expected {r['expected']})")
    print(f"SQuAD SavedModel ({args.squad}):")
    shown = set()
    for (question, context, _), r in zip(queries["questions"], results["questions"]):
        if context not in shown:
            shown.add(context)
            print(f"  context: {context}")
        print(f"    Q: {question} -> {r['answer']!r} (expected {r['expected']!r})")
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
