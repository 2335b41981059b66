"""`make demo` (tools/demo.py): its generated data, and one whole run with --quick settings.

The end-to-end test starts four TensorFlow processes and exports two SavedModels (each checked by
reloading it in a fresh process), so it takes about 3 minutes on 2 CPU cores.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"

import demo
from demo_lib import stories, tasks, vocab


def test_stories_are_seeded_and_questions_are_answered_by_spans():
    first, again = stories.stories(50, seed=7), stories.stories(50, seed=7)
    assert [s.context for s in first] == [s.context for s in again]
    assert [s.context for s in first] != [s.context for s in stories.stories(50, seed=8)]
    for story in first:
        for question, answer, start in story.questions():
            assert story.context[start:start + len(answer)] == answer, question


def test_task_files_have_the_published_layout(tmp_path):
    from albert_tf.finetuning.tasks import get_task

    tasks.write_qnli(tmp_path, {"train": 40, "dev": 20, "test": 10}, seed=1)
    qnli = get_task("QNLI")
    train = qnli.read_split(str(tmp_path), "train", labelled=True)
    assert len(train) == 40 and {e.label for e in train} == {"entailment", "not_entailment"}
    assert len(qnli.read_split(str(tmp_path), "test", labelled=False)) == 10
    squad = tasks.squad_json(3, seed=1, prefix="q")
    qa = squad["data"][0]["paragraphs"][0]
    answer = qa["qas"][0]["answers"][0]
    assert qa["context"][answer["answer_start"]:].startswith(answer["text"])


def test_sentencepiece_model_has_the_albert_special_ids(tmp_path):
    from albert_tf.tokenization import SentencePieceTokenizer

    stories.write_corpus(tmp_path / "corpus.txt", 100, seed=1)
    pieces = vocab.train(tmp_path / "corpus.txt", str(tmp_path / "demo.model"), 2000)
    tokenizer = SentencePieceTokenizer(str(tmp_path / "demo.model"))
    assert tokenizer.vocab_size == pieces
    special = (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id)
    assert special == (0, 1, 2, 3, 4)
    # Whole words are pieces (the demo seeds them; SentencePiece's own miner would split most).
    sentence = stories.stories(1, seed=1)[0].sentences[0]
    assert all(piece.startswith("▁") or piece in ".," for piece in tokenizer.tokenize(sentence)), sentence


def test_a_failing_stage_stops_the_demo():
    with pytest.raises(demo.StageFailed, match="status 3"):
        demo.run("-c", "import sys; sys.exit(3)")


def test_quick_demo_runs_every_stage_and_the_saved_models_answer(tmp_path):
    workdir = tmp_path / "demo"
    result = subprocess.run([sys.executable, str(TOOLS / "demo.py"), "--workdir", str(workdir), "--quick"],
                            capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for stage in range(1, 7):
        assert f"\n=== {stage}. " in result.stdout
    assert (workdir / "pretraining" / "model" / "eval_results.json").is_file()
    for name in ("classifier", "squad"):
        assert (workdir / "export" / name / "saved_model.pb").is_file()
    answers = json.loads((workdir / "answers.json").read_text())
    assert answers["pairs"] and all(r["label"] in ("entailment", "not_entailment") for r in answers["pairs"])
    assert answers["questions"] and all(isinstance(r["answer"], str) for r in answers["questions"])
    printed = result.stdout
    assert printed.count("-> label ") == len(answers["pairs"])
    assert printed.count("    Q: ") == len(answers["questions"])
    assert "tensorboard --logdir" in printed
