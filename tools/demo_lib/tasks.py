"""Fine-tuning files in the published formats, made from the same generator as the corpus.

* QNLI (GLUE) tsv files `train.tsv`, `dev.tsv`, `test.tsv`: a question about a story and one
  sentence of that story; "entailment" when the sentence holds the answer, else "not_entailment"
  (another sentence of the same story). Half the pairs are "entailment".
* SQuAD v1.1 json: each story is a context and its plot's questions are answered by spans of it.
"""

import itertools
import json
import random

from demo_lib import stories

QNLI_HEADER = "index\tquestion\tsentence\tlabel"


def question_sentence_pair(rng):
    """(question, sentence, label) from one story: "entailment" when the sentence holds the answer."""
    story = stories.story(rng)
    question, answer, start = rng.choice(list(story.questions()))
    # The sentence the answer's offset falls in (the context joins the sentences with one space).
    ends = itertools.accumulate(len(sentence) + 1 for sentence in story.sentences)
    holder = next(sentence for sentence, end in zip(story.sentences, ends) if start < end)
    if rng.random() < 0.5:
        return question, holder, "entailment"
    others = [sentence for sentence in story.sentences if answer not in sentence]
    return question, rng.choice(others), "not_entailment"


def write_qnli(data_dir, sizes, seed):
    """`sizes`: examples per split, e.g. {"train": 4000, "dev": 500, "test": 200} (test unlabelled)."""
    rng = random.Random(seed)
    for split, count in sizes.items():
        rows = [question_sentence_pair(rng) for _ in range(count)]
        lines = [QNLI_HEADER if split != "test" else QNLI_HEADER.rsplit("\t", 1)[0]]
        lines += [f"{i}\t{q}\t{s}" + ("" if split == "test" else f"\t{label}") for i, (q, s, label) in enumerate(rows)]
        with open(f"{data_dir}/{split}.tsv", "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


def squad_json(count, seed, prefix):
    """SQuAD v1.1 data: one article per story, one paragraph, the plot's questions."""
    articles = []
    for i, story in enumerate(stories.stories(count, seed)):
        qas = [{"id": f"{prefix}-{i:05d}-{k}", "question": question,
                "answers": [{"text": answer, "answer_start": start}]}
               for k, (question, answer, start) in enumerate(story.questions())]
        articles.append({"title": f"{prefix}-{i:05d}", "paragraphs": [{"context": story.context, "qas": qas}]})
    return {"version": "1.1", "data": articles}


def write_squad(path, count, seed, prefix):
    """Returns the number of questions written."""
    data = squad_json(count, seed, prefix)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    return sum(len(p["qas"]) for a in data["data"] for p in a["paragraphs"])

