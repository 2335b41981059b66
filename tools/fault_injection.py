"""`make fault-injection`: kill -9, a full disk and two runs at once, against every tool with tiny settings.

For each run it reports whether anything under a final name is partial (every dataset shard parses
and agrees with its meta, every checkpoint loads, every SavedModel loads, every json parses), whether
a child process outlived its killed parent, and whether the rerun completes. Scenarios:

  kill -9   albert-create-pretraining-data (2 workers), run_pretraining.py, run_classifier.py
            (training + export), albert-export, each at random moments of a timed clean run
  ENOSPC    an OSError(ENOSPC) raised by the atomic-write helper (`atomic_files.publish`) at two
            random calls of each tool's run (counted in its clean run)
  2 at once run_classifier.py and run_pretraining.py twice on one output directory

  python tools/fault_injection.py --workdir /tmp/fault_injection          # about 10 minutes on 2 cores
  python tools/fault_injection.py --workdir /tmp/fi --kills 1 --only export

Prints a markdown table; exits non-zero when any run left a partial file or an orphan, or a rerun failed.
"""

import argparse
import errno
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from demo_lib import stories, tasks, vocab  # noqa: E402

SEQ = 32
MODEL = dict(embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
             hidden_act="gelu", type_vocab_size=2, initializer_range=0.02, num_hidden_groups=1, inner_group_num=1)

# Runs a tool with the atomic-write helper failing with ENOSPC at its n-th call (argv: n, then the tool);
# n = 0 only counts the calls (printed at exit).
ENOSPC_LAUNCHER = r"""
import atexit, errno, os, runpy, sys
from albert_tf import atomic_files
fail_at = int(sys.argv[1])
real_publish, calls = atomic_files.publish, [0]
def publish(temporary, final):
    calls[0] += 1
    if calls[0] == fail_at:
        where = os.path.join(os.path.basename(os.path.dirname(final)), os.path.basename(final))
        print(f"fault injection: ENOSPC publishing {where}", file=sys.stderr, flush=True)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), final)
    return real_publish(temporary, final)
atomic_files.publish = publish
atexit.register(lambda: print(f"fault injection: {calls[0]} atomic writes", file=sys.stderr, flush=True))
tool = sys.argv[2]
sys.argv = [tool, *sys.argv[3:]]
if tool.endswith(".py"):
    runpy.run_path(tool, run_name="__main__")
else:
    runpy.run_module(tool, run_name="__main__", alter_sys=True)
"""


# --- processes -----------------------------------------------------------------------------------


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[-1].split()
        return fields[0], int(fields[1])
    except (OSError, IndexError, ValueError):
        return None, None


def alive(pid):
    state, _ = _state(pid)
    return state is not None and state != "Z"


def descendants(pid):
    """Every live process below `pid` (children of children too)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            state, ppid = _state(int(entry))
            if state and state != "Z":
                parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")


def run(command, timeout=900):
    started = time.time()
    done = subprocess.run(command, cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout,
                          check=False)
    return done.returncode, done.stdout + done.stderr, time.time() - started


def run_and_kill(command, delay):
    """Starts `command`, kills it with SIGKILL after `delay` s; returns (rc, children seen, orphans)."""
    process = subprocess.Popen(command, cwd=REPO, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen, started = set(), time.time()
    while time.time() - started < delay and process.poll() is None:
        seen.update(descendants(process.pid))
        time.sleep(0.05)
    seen.update(descendants(process.pid))
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    rc = process.wait()
    deadline = time.time() + 10  # children get SIGKILL from the kernel or notice within a second
    while time.time() < deadline and any(alive(p) for p in seen):
        time.sleep(0.1)
    orphans = [p for p in seen if alive(p)]
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    return rc, seen, orphans


def run_with_enospc(command, fail_at):
    tool = command[1] if command[1] != "-m" else command[2]
    rest = command[2:] if command[1] != "-m" else command[3:]
    return run([sys.executable, "-c", ENOSPC_LAUNCHER, str(fail_at), tool, *rest])


# --- what must hold under final names ---------------------------------------------------------------


class Partial(Exception):
    pass


def check_json_files(directory):
    for path in glob.glob(os.path.join(directory, "**", "*.json"), recursive=True):
        if "/." in path[len(str(directory)):]:
            continue  # temporaries are not final names
        try:
            with open(path, encoding="utf-8") as f:
                json.load(f)
        except (ValueError, UnicodeDecodeError) as error:
            raise Partial(f"{path}: {error}") from None


def check_dataset(directory):
    """Every shard under a final name has only whole records; with a meta, everything agrees with it."""
    from albert_tf.data import meta as meta_lib, pretraining_dataset, shard_check
    if not os.path.isdir(directory):
        return "no dataset"
    shards = sorted(glob.glob(os.path.join(directory, "pretrain-*.tfrecord")))
    for shard in shards:
        records, tail = shard_check.count_records(shard)
        if tail:
            raise Partial(f"{shard}: {tail}")
    check_json_files(directory)
    if not os.path.exists(os.path.join(directory, meta_lib.META_NAME)):
        return f"{len(shards)} whole shard(s), no meta (unfinished)"
    meta = pretraining_dataset.load_dataset_meta(shards)
    pretraining_dataset.check_shard_files(shards, verify_sha256=True)
    if not os.path.exists(os.path.join(directory, "tokenizer_config.json")):
        raise Partial(f"{directory}: dataset_meta.json without tokenizer_config.json")
    return f"complete: {len(shards)} shard(s), {meta.instances} instances"


def check_tf_checkpoint(prefix):
    import tensorflow as tf
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in list(reader.get_variable_to_shape_map())[:1000]:
            reader.get_tensor(name)
    except Exception as error:  # pylint: disable=broad-except
        raise Partial(f"{prefix}: {str(error).splitlines()[0]}") from None


def check_model_dir(directory):
    import tensorflow as tf
    if not os.path.isdir(directory):
        return "nothing written"
    check_json_files(directory)
    notes = []
    latest = tf.train.latest_checkpoint(directory)
    if latest:
        check_tf_checkpoint(latest)
        notes.append(f"checkpoint {os.path.basename(latest)} loads")
    for index in glob.glob(os.path.join(directory, "*", "*.ckpt*.index")):
        check_tf_checkpoint(index[:-len(".index")])
        folder = os.path.dirname(index)
        if not os.path.exists(os.path.join(folder, "tokenizer_config.json")):
            raise Partial(f"{folder}: checkpoint without tokenizer_config.json")
        notes.append(f"{os.path.basename(folder)}/ loads")
    return ", ".join(notes) or "no checkpoint yet"


def check_export(directory):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  pylint: disable=unused-import
    if not os.path.exists(directory):
        return "no export"
    try:
        tf.saved_model.load(directory)
        with open(os.path.join(directory, "assets.extra", "export.json"), encoding="utf-8") as f:
            json.load(f)
    except Exception as error:  # pylint: disable=broad-except
        raise Partial(f"{directory}: {str(error).splitlines()[0]}") from None
    return "SavedModel loads"


def leftover_temporaries(*directories):
    from albert_tf import atomic_files
    found = []
    for directory in directories:
        if os.path.isdir(directory):
            found += [name for name in os.listdir(directory) if atomic_files.owner_of(name)]
    return found


# --- the suite --------------------------------------------------------------------------------------


class Suite:
    def __init__(self, work: Path, kills: int, seed: int):
        self.work, self.kills, self.rng = work, kills, random.Random(seed)
        self.rows = []
        self.failed = False

    def setup(self):
        corpus = self.work / "corpus.txt"
        stories.write_corpus(corpus, 4000, seed=1)  # two 1 MB work units: two busy workers
        self.spm = self.work / "spm.model"
        vocab_size = vocab.train(corpus, str(self.spm), 2000)
        self.config = self.work / "albert_config.json"
        self.config.write_text(json.dumps(dict(MODEL, vocab_size=vocab_size)))
        self.qnli = self.work / "qnli"
        self.qnli.mkdir()
        tasks.write_qnli(self.qnli, {"train": 96, "dev": 32, "test": 8}, seed=2)
        self.corpus = corpus

    # commands ---------------------------------------------------------------------------------

    def create_data(self, out):
        return [sys.executable, "-m", "albert_tf.cli.create_pretraining_data", f"--input_file={self.corpus}",
                f"--output_dir={out}", f"--spm_model_file={self.spm}", f"--max_seq_length={SEQ}",
                "--max_predictions_per_seq=5", "--dupe_factor=5", "--num_workers=2", "--overwrite"]

    def pretrain(self, model_dir, steps=100):
        return [sys.executable, "run_pretraining.py", f"--input_file={self.work / 'data'}/*.tfrecord",
                f"--albert_config_file={self.config}", f"--model_dir={model_dir}", "--train_batch_size=16",
                f"--num_train_steps={steps}", "--num_warmup_steps=2", "--learning_rate=1e-3", "--steps_per_loop=5",
                "--save_checkpoints_steps=10", "--seed=3"]

    def finetune(self, out, export_dir=None):
        command = [sys.executable, "run_classifier.py", "--task_name=QNLI", f"--data_dir={self.qnli}",
                   f"--output_dir={out}", f"--albert_config_file={self.config}", f"--vocab_file={self.spm}",
                   f"--max_seq_length={SEQ}", "--do_train", "--do_eval", "--train_steps=12", "--train_batch_size=16",
                   "--eval_every_steps=6", "--learning_rate=1e-3", "--seed=3"]
        return command + ([f"--export_dir={export_dir}"] if export_dir else [])

    def export(self, checkpoint, export_dir):
        return [sys.executable, "-m", "albert_tf.cli.export", "--kind=classifier", f"--checkpoint={checkpoint}",
                "--task_name=QNLI", f"--max_seq_length={SEQ}", f"--export_dir={export_dir}"]

    # reporting --------------------------------------------------------------------------------

    def record(self, scenario, fault, rc, state, orphans, rerun, children=None):
        ok = not state.startswith("PARTIAL") and not orphans and rerun.startswith("ok")
        self.failed |= not ok
        orphan_cell = "-" if orphans is None else f"{len(orphans)} of {children} children" if children else "0"
        self.rows.append((scenario, fault, str(rc), state, orphan_cell, rerun, "pass" if ok else "FAIL"))
        print(f"  {scenario} | {fault} | rc {rc} | {state} | orphans {orphans} | rerun {rerun}", flush=True)

    def checked(self, check, *args):
        try:
            return check(*args)
        except Partial as error:
            return f"PARTIAL: {error}"
        except Exception as error:  # pylint: disable=broad-except
            return f"PARTIAL: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"

    def rerun(self, command, check, target, *temp_dirs):
        rc, output, seconds = run(command)
        if rc != 0:
            return f"FAILED rc {rc}: {output.strip().splitlines()[-1][:200] if output.strip() else ''}"
        state = self.checked(check, target)
        if state.startswith("PARTIAL") or state.startswith("no ") or "no export" in state:
            return f"FAILED: {state}"
        leftovers = leftover_temporaries(*temp_dirs)
        if leftovers:
            return f"FAILED: temporaries left {leftovers}"
        return f"ok ({seconds:.0f}s)"

    def kill_trials(self, scenario, command, check, target, temp_dirs, prepare=None):
        """One clean timed run (counting its atomic writes), then kills at random moments of it, each
        followed by a rerun. Returns the number of atomic writes of the clean run."""
        if prepare:
            prepare()
        rc, output, seconds = run_with_enospc(command, 0)
        if rc != 0:
            raise SystemExit(f"{scenario}: the clean run failed:\n{output[-3000:]}")
        writes = int(re.search(r"fault injection: (\d+) atomic writes", output).group(1))
        state = self.checked(check, target)
        self.record(scenario, f"none (clean run, {writes} atomic writes)", rc, state, [], "ok (first run)")
        for _ in range(self.kills):
            if prepare:
                prepare()
            # The first seconds are imports; the later part of the run is where files are written.
            delay = self.rng.uniform(0.4, 1.0) * max(seconds, 1.0)
            rc, children, orphans = run_and_kill(command, delay)
            state = self.checked(check, target)
            rerun = self.rerun(command, check, target, *temp_dirs)
            self.record(scenario, f"kill -9 at {delay:.1f}s of {seconds:.0f}s", rc, state, orphans, rerun,
                        children=len(children))
        return writes

    def enospc_trials(self, scenario, command, writes, check, target, temp_dirs, prepare=None):
        """ENOSPC at two random atomic writes of the run (of the `writes` a clean run makes)."""
        for fail_at in sorted(self.rng.sample(range(1, writes + 1), min(2, writes))):
            self.enospc_trial(scenario, command, fail_at, check, target, temp_dirs, prepare)

    def enospc_trial(self, scenario, command, fail_at, check, target, temp_dirs, prepare=None):
        if prepare:
            prepare()
        rc, output, _ = run_with_enospc(command, fail_at)
        reported = "No space left on device" in output
        target_name = next((line.rsplit(" ", 1)[-1] for line in output.splitlines()
                            if line.startswith("fault injection: ENOSPC publishing")), None)
        if target_name is None:
            raise SystemExit(f"{scenario}: write #{fail_at} was never reached:\n{output[-3000:]}")
        state = self.checked(check, target)
        if rc == 0:
            state = f"PARTIAL: exit 0 although a write failed ({state})"
        elif not reported:
            state = f"PARTIAL: the failure was not reported ({state})"
        leftovers = leftover_temporaries(*temp_dirs)
        if leftovers:
            state = f"PARTIAL: temporaries left by the failed run: {leftovers}"
        rerun = self.rerun(command, check, target, *temp_dirs)
        self.record(scenario, f"ENOSPC at write #{fail_at} ({target_name})", rc, state, None, rerun)

    def concurrent(self, scenario, command, check, target, stagger=0.0):
        first = subprocess.Popen(command, cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        time.sleep(stagger)
        second = subprocess.Popen(command, cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        outputs = [p.communicate(timeout=900)[0] for p in (first, second)]
        codes = [first.returncode, second.returncode]
        refused = [i for i, (rc, out) in enumerate(zip(codes, outputs)) if rc != 0 and "is in use by pid" in out]
        state = self.checked(check, target)
        if sorted(codes).count(0) != 1 or len(refused) != 1:
            state = f"PARTIAL: exit codes {codes}, {len(refused)} refused naming the holder ({state})"
        else:
            state = f"one ran, one refused naming the holder; {state}"
        rerun = self.rerun(command, check, target)
        self.record(scenario, "two runs at once", "/".join(map(str, codes)), state, None, rerun)

    # scenarios --------------------------------------------------------------------------------

    def data_tool(self):
        out = self.work / "data"
        command = self.create_data(out)
        writes = self.kill_trials("create-data", command, check_dataset, str(out), [str(out)])
        self.enospc_trials("create-data", command, writes, check_dataset, str(out), [str(out)])
        run(command)  # leaves a complete dataset for pretraining

    def pretraining(self):
        model_dir = self.work / "pretrain"
        writes = self.kill_trials("run_pretraining.py", self.pretrain(model_dir), check_model_dir, str(model_dir),
                         [str(model_dir), str(model_dir / "pretrained")],
                         prepare=lambda: shutil.rmtree(model_dir, ignore_errors=True))
        self.enospc_trials("run_pretraining.py", self.pretrain(model_dir), writes, check_model_dir, str(model_dir),
                           [str(model_dir), str(model_dir / "pretrained")],
                           prepare=lambda: shutil.rmtree(model_dir, ignore_errors=True))
        self.concurrent("run_pretraining.py", self.pretrain(self.work / "pretrain_twice", steps=40), check_model_dir,
                        str(self.work / "pretrain_twice"))

    def fine_tuning(self):
        out, export_dir = self.work / "finetune", self.work / "finetune_export"

        def fresh():
            shutil.rmtree(out, ignore_errors=True)
        writes = self.kill_trials("run_classifier.py + export", self.finetune(out, export_dir),
                                  lambda d: f"{check_model_dir(d)}; {check_export(str(export_dir))}", str(out),
                                  [str(out), str(out / "best_checkpoint"), str(self.work)], prepare=fresh)
        self.enospc_trials("run_classifier.py + export", self.finetune(out, export_dir), writes,
                           lambda d: f"{check_model_dir(d)}; {check_export(str(export_dir))}", str(out),
                           [str(out), str(out / "best_checkpoint"), str(self.work)], prepare=fresh)
        self.concurrent("run_classifier.py", self.finetune(self.work / "finetune_twice"), check_model_dir,
                        str(self.work / "finetune_twice"))

    def exporting(self):
        checkpoint = self.work / "finetune" / "best_checkpoint" / "model.ckpt"
        if not os.path.exists(f"{checkpoint}.index"):
            run(self.finetune(self.work / "finetune"))
        export_dir = self.work / "export"
        writes = self.kill_trials("albert-export", self.export(checkpoint, export_dir), check_export,
                                  str(export_dir), [str(self.work)])
        self.enospc_trials("albert-export", self.export(checkpoint, export_dir), writes, check_export,
                           str(export_dir), [str(self.work)])

    def table(self):
        lines = ["| tool | fault | exit | what is under the final names | orphans | rerun | verdict |",
                 "|---|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in self.rows]
        return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/albert_fault_injection")
    parser.add_argument("--kills", type=int, default=2, help="kill -9 trials per tool")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    parser.add_argument("--only", choices=["data", "pretraining", "finetuning", "export"], action="append")
    args = parser.parse_args()
    work = Path(args.workdir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    suite = Suite(work, args.kills, args.seed)
    suite.setup()
    chosen = args.only or ["data", "pretraining", "finetuning", "export"]
    if "data" in chosen or "pretraining" in chosen:
        print("== albert-create-pretraining-data", flush=True)
        if "data" in chosen:
            suite.data_tool()
        else:
            run(suite.create_data(work / "data"))
    if "pretraining" in chosen:
        print("== run_pretraining.py", flush=True)
        suite.pretraining()
    if "finetuning" in chosen:
        print("== run_classifier.py", flush=True)
        suite.fine_tuning()
    if "export" in chosen:
        print("== albert-export", flush=True)
        suite.exporting()
    print()
    print(suite.table())
    (work / "summary.md").write_text(suite.table() + "\n")
    sys.exit(1 if suite.failed else 0)


if __name__ == "__main__":
    main()
