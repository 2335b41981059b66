"""`make demo`: albert-tf end to end on CPU, on small English data the demo writes itself.

Stages (each runs the project's own command-line tools and streams their progress):
  1. a corpus of little template stories (seeded) and a SentencePiece model trained on it;
  2. pretraining records (`albert-create-pretraining-data`), training and held-out;
  3. a tiny ALBERT pretrained with MLM + SOP (`run_pretraining.py --do_eval`);
  4. question/sentence classification (GLUE QNLI format) fine-tuned from it (`run_classifier.py`);
  5. SQuAD v1.1 fine-tuned from it on questions about new stories (`run_squad.py`);
  6. both exported SavedModels answer raw-text queries, loaded with TensorFlow alone.

  python tools/demo.py --workdir demo_output            # about 10 minutes on 2 CPU cores
  python tools/demo.py --workdir /tmp/demo --quick      # the same stages with tiny settings
"""

import argparse
import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_lib import stories, tasks, vocab  # noqa: E402
from albert_tf import tf_logs  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Settings:
    corpus_stories: int       # pretraining corpus (held-out stories come from another seed)
    heldout_stories: int
    dupe_factor: int
    pretrain_steps: int
    pretrain_batch: int
    qnli_sizes: dict          # examples per split
    classifier_steps: int
    squad_stories: dict       # stories per split (5-9 questions each)
    squad_steps: int


FULL = Settings(corpus_stories=1500, heldout_stories=150, dupe_factor=5, pretrain_steps=800, pretrain_batch=64,
                qnli_sizes={"train": 4000, "dev": 500, "test": 200}, classifier_steps=400,
                squad_stories={"train": 600, "dev": 60}, squad_steps=400)
QUICK = Settings(corpus_stories=200, heldout_stories=30, dupe_factor=2, pretrain_steps=20, pretrain_batch=16,
                 qnli_sizes={"train": 200, "dev": 64, "test": 16}, classifier_steps=10,
                 squad_stories={"train": 30, "dev": 10}, squad_steps=10)

SEED = 12345
VOCAB_SIZE = 2000        # an upper bound: the corpus has about a thousand distinct words
SEQ_LENGTH = 64          # pretraining and classification
SQUAD_SEQ_LENGTH = 128   # a question and most of a story; longer stories take a second window
MODEL = dict(embedding_size=64, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256,
             max_position_embeddings=SQUAD_SEQ_LENGTH, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
             hidden_act="gelu", type_vocab_size=2, initializer_range=0.02, num_hidden_groups=1, inner_group_num=1)

# Raw-text queries for the classifier SavedModel: (question, sentence, expected label).
PAIRS = (
    ("Where did Anna live?", "Anna Smith was a kind baker who lived in Paris.", "entailment"),
    ("Where did Anna live?", "Every morning she walked to the market to buy bread.", "not_entailment"),
    ("What did Tom plant?", "In spring, Tom planted roses in long rows.", "entailment"),
    ("What did Tom plant?", "With the money, he bought a new shovel.", "not_entailment"),
    ("Which instrument did Lucy want to play?", "Lucy Brooks always wanted to play the violin.", "entailment"),
)
# Subprocess lines that only say which hardware TensorFlow did not find.


class StageFailed(RuntimeError):
    pass


def run(*command):
    """Runs a project script with this interpreter from the repository root, streaming its output."""
    command = [sys.executable, *map(str, command)]
    print("$ " + " ".join(shlex.quote(c) for c in command[1:]), flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as process:
        for line in process.stdout:
            if not tf_logs.is_noise(line):  # TensorFlow's start-up lines (the scripts hide them too)
                print("  | " + line, end="", flush=True)
    if process.returncode != 0:
        raise StageFailed(f"{command[1]} exited with status {process.returncode}")


def size_of(path: Path) -> str:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    return f"{total / 1e6:.1f} MB" if total >= 1e6 else f"{total / 1e3:.0f} KB"


def produced(*paths: Path):
    for path in paths:
        print(f"  -> {path} ({size_of(path)})")


def read_json(path: Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Demo:
    def __init__(self, workdir: Path, settings: Settings):
        self.work, self.s = workdir, settings
        self.timings, self.metrics = {}, {}
        self.spm = workdir / "spm" / "demo.model"
        self.model_dir = workdir / "pretraining" / "model"
        self.export = workdir / "export"

    @contextlib.contextmanager
    def stage(self, title):
        print(f"\n=== {title}", flush=True)
        started = time.time()
        yield
        self.timings[title] = time.time() - started
        print(f"=== {title}: {self.timings[title]:.0f}s", flush=True)

    def corpus_and_vocabulary(self):
        data = self.work / "corpus"
        data.mkdir(parents=True)
        # Held-out stories come from another seed: the evaluation never sees a training document.
        size = stories.write_corpus(data / "train.txt", self.s.corpus_stories, seed=SEED)
        stories.write_corpus(data / "heldout.txt", self.s.heldout_stories, seed=SEED + 1)
        print(f"{self.s.corpus_stories} stories ({size / 1e3:.0f} KB) for training, "
              f"{self.s.heldout_stories} held out; for example:\n  "
              + "\n  ".join(stories.stories(1, SEED)[0].sentences))
        self.spm.parent.mkdir()
        pieces = vocab.train(data / "train.txt", str(self.spm), VOCAB_SIZE)
        print(f"SentencePiece unigram model: {pieces} pieces (<pad> 0, <unk> 1, [CLS] 2, [SEP] 3, [MASK] 4)")
        self.vocab_size = pieces
        produced(data / "train.txt", data / "heldout.txt", self.spm)

    def pretraining_records(self):
        for name, dupe in (("train", self.s.dupe_factor), ("heldout", 1)):
            run("-m", "albert_tf.cli.create_pretraining_data", f"--input_file={self.work / 'corpus' / name}.txt",
                f"--output_dir={self.work / 'pretraining' / name}", f"--spm_model_file={self.spm}",
                f"--max_seq_length={SEQ_LENGTH}", "--max_predictions_per_seq=10", f"--dupe_factor={dupe}",
                f"--random_seed={SEED}", "--num_workers=2")
        produced(self.work / "pretraining" / "train", self.work / "pretraining" / "heldout")

    def pretrain(self):
        config = self.work / "pretraining" / "albert_config.json"
        config.write_text(json.dumps(dict(MODEL, vocab_size=self.vocab_size), indent=1))
        steps = self.s.pretrain_steps
        run("run_pretraining.py", f"--input_file={self.work / 'pretraining' / 'train'}/*.tfrecord",
            f"--eval_input_file={self.work / 'pretraining' / 'heldout'}/*.tfrecord", f"--albert_config_file={config}",
            f"--model_dir={self.model_dir}", f"--train_batch_size={self.s.pretrain_batch}",
            f"--num_train_steps={steps}", f"--num_warmup_steps={steps // 10}", "--learning_rate=1e-2",
            f"--steps_per_loop={min(100, steps)}", f"--save_checkpoints_steps={steps}", "--jit_compile",
            "--do_eval", "--eval_batch_size=32", "--max_eval_steps=0", f"--seed={SEED}")
        results = read_json(self.model_dir / "eval_results.json")
        self.metrics["pretraining"] = (
            f"held-out MLM accuracy {results['mlm_accuracy']:.3f}, SOP accuracy {results['sop_accuracy']:.3f} "
            f"(chance 0.5) on {results['examples']:.0f} held-out examples after {results['global_step']} steps")
        print(self.metrics["pretraining"])
        produced(self.model_dir / "pretrained")

    def classifier(self):
        data = self.work / "qnli"
        data.mkdir()
        tasks.write_qnli(data, self.s.qnli_sizes, seed=SEED + 2)
        print("QNLI-format rows (index, question, sentence, label):")
        print("  " + "\n  ".join((data / "train.tsv").read_text(encoding="utf-8").splitlines()[1:5]))
        out = self.work / "classifier"
        run("run_classifier.py", "--task_name=QNLI", f"--data_dir={data}", f"--output_dir={out}",
            f"--init_checkpoint={self.model_dir / 'pretrained'}", f"--max_seq_length={SEQ_LENGTH}",
            "--do_train", "--do_eval", "--do_predict", f"--train_steps={self.s.classifier_steps}",
            "--train_batch_size=32", "--learning_rate=1e-3", "--classifier_dropout=0.0",
            f"--eval_every_steps={max(self.s.classifier_steps // 2, 1)}", f"--seed={SEED}",
            f"--export_dir={self.export / 'classifier'}")
        results = read_json(out / "eval_results.json")
        dev, best = results["dev"], results["best_checkpoint"]
        self.metrics["QNLI classifier"] = (
            f"dev accuracy {dev['accuracy']:.3f} on {dev['num_examples']} pairs (half are 'entailment'; "
            f"best checkpoint: step {best['step']})")
        print(self.metrics["QNLI classifier"])
        produced(out / "best_checkpoint", out / "predictions", self.export / "classifier")

    def squad(self):
        data = self.work / "squad"
        data.mkdir()
        counts = {split: tasks.write_squad(data / f"{split}.json", n, seed=SEED + 3 + i, prefix=split)
                  for i, (split, n) in enumerate(self.s.squad_stories.items())}
        print(f"SQuAD v1.1 files: {counts['train']} training and {counts['dev']} dev questions")
        out = self.work / "squad_run"
        run("run_squad.py", "--version=1.1", f"--train_file={data / 'train.json'}",
            f"--predict_file={data / 'dev.json'}", f"--output_dir={out}",
            f"--init_checkpoint={self.model_dir / 'pretrained'}", f"--max_seq_length={SQUAD_SEQ_LENGTH}",
            "--doc_stride=64", "--max_query_length=32", "--max_answer_length=8", "--do_train", "--do_eval",
            f"--train_steps={self.s.squad_steps}", "--train_batch_size=32", "--learning_rate=1e-3",
            f"--seed={SEED}", f"--export_dir={self.export / 'squad'}")
        results = read_json(out / "eval_results.json")
        self.metrics["SQuAD v1.1"] = (f"dev exact match {results['exact_match']:.1f}, F1 {results['f1']:.1f} "
                                      f"on {results['total']} questions")
        print(self.metrics["SQuAD v1.1"])
        produced(out / "predictions.json", out / "squad_model", self.export / "squad")

    def serve(self):
        story = stories.stories(1, seed=SEED + 10)[0]
        queries = {"pairs": PAIRS,
                   "questions": [(q, story.context, answer) for q, answer, _ in story.questions()]}
        (self.work / "queries.json").write_text(json.dumps(queries, indent=1))
        run(Path(__file__).parent / "demo_lib" / "serve.py", f"--queries={self.work / 'queries.json'}",
            f"--classifier={self.export / 'classifier'}", f"--squad={self.export / 'squad'}",
            f"--output={self.work / 'answers.json'}")
        answers = read_json(self.work / "answers.json")
        self.metrics["SavedModel answers"] = (
            f"{sum(r['label'] == r['expected'] for r in answers['pairs'])}/{len(answers['pairs'])} pairs, "
            f"{sum(r['answer'] == r['expected'].lower() for r in answers['questions'])}/"
            f"{len(answers['questions'])} questions as expected")

    def summary(self, started):
        print("\n=== summary")
        for title, seconds in self.timings.items():
            print(f"  {seconds:6.0f}s  {title}")
        print(f"  {time.time() - started:6.0f}s  in total")
        for name, value in self.metrics.items():
            print(f"  {name}: {value}")
        print(f"outputs in {self.work}/; TensorBoard (pretraining and fine-tuning): tensorboard --logdir {self.work}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="demo_output", help="replaced on every run")
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks the stages, learns nothing")
    args = parser.parse_args()
    workdir = Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    demo = Demo(workdir, QUICK if args.quick else FULL)
    started = time.time()
    try:
        with demo.stage("1. corpus and SentencePiece model"):
            demo.corpus_and_vocabulary()
        with demo.stage("2. pretraining records"):
            demo.pretraining_records()
        with demo.stage("3. pretraining (MLM + SOP)"):
            demo.pretrain()
        with demo.stage("4. fine-tuning: does the sentence answer the question? (QNLI format)"):
            demo.classifier()
        with demo.stage("5. fine-tuning: SQuAD v1.1"):
            demo.squad()
        with demo.stage("6. raw-text queries to the exported SavedModels"):
            demo.serve()
    except StageFailed as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        sys.exit(1)
    demo.summary(started)


if __name__ == "__main__":
    main()
