"""Pretraining-data generation: albert-tf vs TF Model Garden `create_pretraining_data.py`.

Same English corpus, same settings (seq 128, dupe_factor 5, max predictions 20, masked_lm_prob
0.15, seed 12345, lower case) at several corpus scales. Scale 1 is the corpus files as they are
(a comma list); scale k > 1 is the corpus concatenated k times into one temp file (documents
separated by blank lines). Each tool runs as a subprocess with a fresh output dir under /tmp.

Measured per run:
  * wall clock, and throughput in MB of input text per minute;
  * peak RSS of the whole process tree, sampled from /proc every --sample-interval s:
    the peak of the sum over all live processes of the tree sampled together, the peak of any
    single process, and the peak of the summed PSS (shared pages split between the processes
    that map them; sampled less often, it is the fairer figure for forked workers);
  * ru_maxrss of the child from wait4 (the largest single process, as `/usr/bin/time -v`
    reports it);
  * instances written: albert-tf's `dataset_meta.json` "instances", else the peer's log line,
    else a count of the TFRecord records.

The peer uses BERT WordPiece (FullTokenizer) with a vocab converted from the same SentencePiece
vocabulary (bench/peers/spm_vocab_to_wordpiece.py); `--peer-tokenization sentencepiece` runs its
SentencePiece mode on 30k-clean.model instead, `both` runs the two.

Usage (stdlib only; the tools run in their own venvs):
  python3 bench/bench_pretraining_data.py [--scales 1,10] [--workers 2] \
      [--peer-python .venv-modelgarden/bin/python] [--out bench/results/pretraining_data.md]
Peer venv: bash bench/peers/setup_modelgarden.sh
"""

import argparse
import glob
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine_info import cpu_flags, cpu_model, describe_flags, mem_total_gib  # noqa: E402  (bench/ is the script's directory)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench" / "peers"))

from spm_vocab_to_wordpiece import convert as spm_vocab_to_wordpiece  # noqa: E402


def realdata_dir():
    env = os.environ.get("ALBERT_TF_REALDATA")
    return Path(env) if env else ROOT.parent / "shared" / "realdata"


REALDATA = realdata_dir()
DEFAULT_CORPUS = str(REALDATA / "text" / "en" / "*.txt")
DEFAULT_SPM = str(REALDATA / "assets" / "albert_en_spm" / "30k-clean.model")
OURS_MODULE = "albert_tf.cli.create_pretraining_data"
OURS_FILE = ROOT / "albert_tf" / "cli" / "create_pretraining_data.py"
PEER_MODULE = "official.nlp.data.create_pretraining_data"
MB = 1e6
MIB = 1024 * 1024

SETTINGS = dict(max_seq_length=128, max_predictions_per_seq=20, masked_lm_prob=0.15,
                dupe_factor=5, random_seed=12345)


# ---------------------------------------------------------------- machine facts





def loadavg():
    try:
        return open("/proc/loadavg", encoding="utf-8").read().split()[:3]
    except OSError:
        return ["?"] * 3


def venv_versions(python, modules):
    """{module: version or None} in another interpreter; {} when it cannot run."""
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {'python': sys.version.split()[0]}\n"
            f"for name in {list(modules)!r}:\n"
            "    try: out[name] = m.version(name)\n"
            "    except Exception: out[name] = None\n"
            "print(json.dumps(out))")
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
        return json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return {}


# ---------------------------------------------------------------- process-tree sampling

def _proc_table():
    """{pid: ppid} for every live process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            # comm may hold spaces/parens: the fields after the last ')' are fixed.
            ppid = int(stat[stat.rfind(b")") + 2:].split()[1])
            table[int(name)] = ppid
        except (OSError, ValueError, IndexError):
            continue
    return table


def tree_pids(root):
    table = _proc_table()
    children = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in table or pid == root:
            out.append(pid)
        stack.extend(children.get(pid, ()))
    return out


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def pss_bytes(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def run_measured(cmd, log_path, timeout, interval=0.1, pss_every=1.0, env=None):
    """Run cmd in its own session, sampling its process tree until it exits or times out."""
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, cwd=str(ROOT))
        peak_sum = peak_single = peak_pss = 0
        max_procs = 0
        last_pss = -1e9
        status = ru = None
        timed_out = False
        while True:
            pid, st, r = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                status, ru = st, r
                break
            now = time.perf_counter()
            if now - t0 > timeout:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status, ru = os.wait4(proc.pid, 0)
                break
            pids = tree_pids(proc.pid)
            rss = [rss_bytes(p) for p in pids]
            rss = [x for x in rss if x]
            if rss:
                peak_sum = max(peak_sum, sum(rss))
                peak_single = max(peak_single, max(rss))
                max_procs = max(max_procs, len(rss))
            if now - last_pss >= pss_every:
                last_pss = now
                peak_pss = max(peak_pss, sum(pss_bytes(p) for p in pids))
            time.sleep(interval)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    # Anything the tool left behind in its session (orphaned workers) is ended here.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return dict(wall_s=wall, rc=proc.returncode, timed_out=timed_out,
                peak_rss_sum=peak_sum, peak_rss_single=peak_single, peak_pss_sum=peak_pss,
                max_procs=max_procs, ru_maxrss=ru.ru_maxrss * 1024 if ru else 0,
                user_s=ru.ru_utime if ru else 0.0, sys_s=ru.ru_stime if ru else 0.0)


# ---------------------------------------------------------------- corpus + tools

def build_corpus(files, scale, tmp):
    """(input files, total bytes). Scale 1: the files as they are; else one concatenated file."""
    if scale == 1:
        return list(files), sum(os.path.getsize(f) for f in files)
    path = Path(tmp) / f"corpus_x{scale}.txt"
    with open(path, "wb") as out:
        for _ in range(scale):
            for f in files:
                data = Path(f).read_bytes()
                out.write(data)
                if not data.endswith(b"\n"):
                    out.write(b"\n")
                out.write(b"\n")  # blank line: document boundary between pieces
    return [str(path)], os.path.getsize(path)


def count_records(python, pattern):
    code = ("import glob, sys, tensorflow as tf\n"
            "n = 0\n"
            "for f in sorted(glob.glob(sys.argv[1])):\n"
            "    try:\n"
            "        n += sum(1 for _ in tf.data.TFRecordDataset(f))\n"
            "    except tf.errors.DataLossError:\n"
            "        n += sum(1 for _ in tf.data.TFRecordDataset(f, compression_type='GZIP'))\n"
            "print(n)")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    try:
        r = subprocess.run([python, "-c", code, pattern], capture_output=True, text=True,
                           timeout=1800, env=env)
        return int(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def ours_available(python):
    """(ok, reason)."""
    if not Path(python).exists():
        return False, f"{python} missing"
    if not OURS_FILE.exists():
        return False, f"{OURS_FILE.relative_to(ROOT)} missing"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    try:
        r = subprocess.run([python, "-m", OURS_MODULE, "--help"], capture_output=True,
                           text=True, timeout=300, cwd=str(ROOT), env=env)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"--help failed: {e}"
    # absl's --help may exit 1 after printing the flags; the flag list is what counts.
    if "--output_dir" not in (r.stdout + r.stderr):
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or [""]
        return False, f"--help exited {r.returncode}: {tail[0][:200]}"
    return True, ""


def ours_cmd(args, inputs, out_dir, extra_args=""):
    return [args.ours_python, "-m", OURS_MODULE,
            f"--input_file={','.join(inputs)}", f"--output_dir={out_dir}",
            f"--spm_model_file={args.spm_model}", "--do_lower_case=true",
            *(f"--{k}={v}" for k, v in SETTINGS.items()),
            f"--num_workers={args.workers}", *extra_args.split()]


def peer_cmd(args, inputs, out_dir, tokenization, vocab_txt):
    cmd = [args.peer_python, "-m", PEER_MODULE,
           f"--input_file={','.join(inputs)}",
           f"--output_file={os.path.join(out_dir, 'peer.tfrecord')}",
           "--do_lower_case=True", *(f"--{k}={v}" for k, v in SETTINGS.items()),
           "--verbosity=0", "--logtostderr"]
    cmd += args.peer_args.split()
    if tokenization == "sentencepiece":
        cmd += ["--tokenization=SentencePiece", f"--sp_model_file={args.spm_model}"]
    else:
        cmd += ["--tokenization=WordPiece", f"--vocab_file={vocab_txt}"]
    return cmd


def ours_instances(out_dir, python):
    meta = Path(out_dir) / "dataset_meta.json"
    if meta.exists():
        try:
            n = json.loads(meta.read_text()).get("instances")
            if isinstance(n, int):
                return n, "dataset_meta.json"
        except (OSError, ValueError, AttributeError):
            pass
    n = count_records(python, os.path.join(out_dir, "*.tfrecord*"))
    return n, "records counted"


def peer_instances(out_dir, log_path, python):
    try:
        m = re.findall(r"Wrote (\d+) total instances", Path(log_path).read_text(errors="replace"))
        if m:
            return int(m[-1]), "log"
    except OSError:
        pass
    return count_records(python, os.path.join(out_dir, "peer.tfrecord")), "records counted"


def tail(path, n=5):
    try:
        return Path(path).read_text(errors="replace").strip().splitlines()[-n:]
    except OSError:
        return []


# ---------------------------------------------------------------- report

def fmt_mib(b):
    return f"{b / MIB:,.0f}" if b else "–"


def render(args, facts, rows, notes):
    scales = sorted({r["scale"] for r in rows})
    L = ["# Pretraining data generation: albert-tf vs TF Model Garden", ""]
    L.append(f"Machine: {facts['nproc']} CPUs available (os.cpu_count {facts['cpu_count']}), "
             f"{facts['cpu']} ({facts.get('flags', 'CPU flags not recorded')}), {facts['mem_gib']:.1f} GiB RAM, "
             f"{facts['platform']}; "
             f"load average before {' '.join(facts['load_before'])}, "
             f"after {' '.join(facts.get('load_after', ['?'] * 3))}.")
    o, p = facts["ours_versions"], facts["peer_versions"]
    L.append(f"albert-tf venv: Python {o.get('python', '?')}, tensorflow {o.get('tensorflow')}, "
             f"tensorflow-text {o.get('tensorflow-text')}, keras {o.get('keras')}.")
    L.append(f"Model Garden venv: Python {p.get('python', '?')}, tf-models-official "
             f"{p.get('tf-models-official')}, tensorflow {p.get('tensorflow')}, "
             f"tf_keras {p.get('tf-keras') or p.get('tf_keras')}.")
    L.append(f"Settings: seq {SETTINGS['max_seq_length']}, dupe_factor {SETTINGS['dupe_factor']}, "
             f"max predictions {SETTINGS['max_predictions_per_seq']}, masked_lm_prob "
             f"{SETTINGS['masked_lm_prob']}, seed {SETTINGS['random_seed']}, lower case; "
             f"albert-tf --num_workers={args.workers}. Corpus: `{args.corpus}` "
             f"({facts['n_files']} files); scale k > 1 = the files concatenated k times into one "
             f"file, blank line between pieces.")
    L.append("Command: `" + " ".join(facts["argv"]) + "`")
    L.append("")
    L.append("| scale | input MB | tool | status | wall s | MB/min | instances | "
             "peak RSS tree sum MiB | peak RSS single proc MiB | peak PSS sum MiB | procs | "
             "CPU s (user+sys) | MB/CPU-min |")
    L.append("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ok = r.get("status") == "ok"
        L.append("| {scale}× | {mb:.2f} | {tool} | {status} | {wall} | {mbmin} | {inst} | "
                 "{rs} | {r1} | {ps} | {np} | {cpu} | {mbcpu} |".format(
                     scale=r["scale"], mb=r["mb"], tool=r["tool"], status=r["status"],
                     wall=f"{r['wall_s']:.1f}" if "wall_s" in r else "–",
                     mbmin=f"{r['mb'] / (r['wall_s'] / 60):.2f}" if ok else "–",
                     inst=f"{r['instances']:,}" if ok and r.get("instances") is not None else "–",
                     rs=fmt_mib(r.get("peak_rss_sum")), r1=fmt_mib(r.get("peak_rss_single")),
                     ps=fmt_mib(r.get("peak_pss_sum")), np=r.get("max_procs", "–"),
                     cpu=f"{r['user_s'] + r['sys_s']:.0f}" if "user_s" in r else "–",
                     mbcpu=(f"{r['mb'] / ((r['user_s'] + r['sys_s']) / 60):.2f}"
                            if ok and r.get("user_s") else "–")))
    L.append("")

    def get(tool, scale):
        for r in rows:
            if r["tool"] == tool and r["scale"] == scale and r.get("status") == "ok":
                return r
        return None

    tools = list(dict.fromkeys(r["tool"] for r in rows))
    peers = [t for t in tools if t.startswith("Model Garden")]
    ours = [t for t in tools if t.startswith("albert-tf")]
    if ours and peers:
        L.append("Throughput ratio albert-tf / peer (MB/min):")
        L.append("")
        L.append("| scale | " + " | ".join(f"vs {p}" for p in peers) + " |")
        L.append("|---:|" + "---:|" * len(peers))
        for s in scales:
            cells = []
            for p in peers:
                a, b = get(ours[0], s), get(p, s)
                cells.append(f"{b['wall_s'] / a['wall_s']:.2f}×" if a and b else "–")
            L.append(f"| {s}× | " + " | ".join(cells) + " |")
        L.append("")
    if len(scales) > 1:
        lo, hi = scales[0], scales[-1]
        L.append(f"Memory growth {hi}× / {lo}× (peak RSS tree sum; single process; PSS sum):")
        L.append("")
        L.append("| tool | RSS sum | RSS single | PSS sum | wall time |")
        L.append("|---|---:|---:|---:|---:|")
        for t in tools:
            a, b = get(t, lo), get(t, hi)
            if a and b:
                def ratio(k):
                    return f"{b[k] / a[k]:.2f}×" if a.get(k) and b.get(k) else "–"
                L.append(f"| {t} | {ratio('peak_rss_sum')} | {ratio('peak_rss_single')} | "
                         f"{ratio('peak_pss_sum')} | {ratio('wall_s')} |")
            else:
                L.append(f"| {t} | – | – | – | – |")
        L.append("")
    L.append("Notes:")
    L.append("")
    L.append("- MB = 10^6 bytes of input text; MB/min uses wall clock of the whole subprocess "
             "(interpreter and TensorFlow start-up included). RSS/PSS sampled from /proc every "
             f"{args.sample_interval} s (PSS every {args.pss_interval} s), summed over the tool's "
             "process tree; the RSS sum counts pages shared between forked workers once per "
             "process, PSS splits them. CPU s = user+sys of the tool and its reaped children "
             "(wait4); MB/CPU-min is the throughput per CPU-minute, less sensitive to other "
             "load on the machine than wall clock.")
    L.append("- Peer WordPiece vocab: 30k-clean.vocab converted by "
             "bench/peers/spm_vocab_to_wordpiece.py (--char-words); peer's token count is "
             "within a few percent of SentencePiece's on this corpus (see that script's "
             "--check-corpus).")
    L.append("- The peer holds every document and every instance in memory before writing "
             "(one output file). The work is not identical: albert-tf (its defaults) masks whole "
             "words in n-grams up to 3 and builds SOP pairs; the peer (its defaults) masks single "
             "tokens and builds NSP pairs" + (f", here with `{args.peer_args}`" if args.peer_args
                                              else "") + ". Instance counts differ with the "
             "tokenizer and the pair sampling.")
    for n in notes:
        L.append(f"- {n}")
    return "\n".join(L) + "\n"


def write_atomic(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    atomic_files.write_text(path, text)


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=DEFAULT_CORPUS, help="glob or comma list of text files")
    ap.add_argument("--scales", default="1,10")
    ap.add_argument("--workers", type=int, default=2, help="albert-tf --num_workers")
    ap.add_argument("--peer-python", default=str(ROOT / ".venv-modelgarden" / "bin" / "python"))
    ap.add_argument("--ours-python", default=str(ROOT / ".venv" / "bin" / "python"))
    ap.add_argument("--spm-model", default=DEFAULT_SPM)
    ap.add_argument("--peer-tokenization", choices=["wordpiece", "sentencepiece", "both"],
                    default="wordpiece")
    ap.add_argument("--peer-args", default="",
                    help="extra peer flags, e.g. '--do_whole_word_mask=True --max_ngram_size=3'")
    ap.add_argument("--ours-args", action="append", default=None,
                    help="extra albert-tf flags for one albert-tf run per use, e.g. '--unit_mb=1' "
                         "('' = defaults); default: one run with defaults")
    ap.add_argument("--tools", default="peer,ours", help="comma list of peer, ours")
    ap.add_argument("--peer-timeout", type=float, default=1800.0, help="seconds per peer run")
    ap.add_argument("--ours-timeout", type=float, default=1800.0, help="seconds per albert-tf run")
    ap.add_argument("--sample-interval", type=float, default=0.1)
    ap.add_argument("--pss-interval", type=float, default=1.0)
    ap.add_argument("--keep", action="store_true", help="keep the temp corpus and outputs")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "pretraining_data.md"))
    args = ap.parse_args(argv)

    files = sorted({f for pat in args.corpus.split(",") for f in glob.glob(pat)})
    if not files:
        ap.error(f"no files match {args.corpus}")
    scales = [int(s) for s in args.scales.split(",") if s.strip()]
    tools = {t.strip() for t in args.tools.split(",")}
    peer_toks = (["wordpiece", "sentencepiece"] if args.peer_tokenization == "both"
                 else [args.peer_tokenization])

    facts = dict(nproc=len(os.sched_getaffinity(0)), cpu_count=os.cpu_count(), cpu=cpu_model(),
                 flags=describe_flags(cpu_flags()),
                 mem_gib=mem_total_gib(), platform=f"{platform.system()} {platform.release()}",
                 load_before=loadavg(), n_files=len(files),
                 argv=["python3", "bench/bench_pretraining_data.py", *(argv or sys.argv[1:])])
    facts["ours_versions"] = venv_versions(args.ours_python,
                                           ["tensorflow", "tensorflow-text", "keras"])
    facts["peer_versions"] = venv_versions(args.peer_python,
                                           ["tf-models-official", "tensorflow", "tf-keras"])
    notes = []

    have_peer = "peer" in tools and bool(facts["peer_versions"].get("tf-models-official"))
    if "peer" in tools and not have_peer:
        notes.append(f"Model Garden not available ({args.peer_python}); run "
                     "bench/peers/setup_modelgarden.sh.")
    have_ours = False
    if "ours" in tools:
        have_ours, why = ours_available(args.ours_python)
        if not have_ours:
            notes.append(f"albert-tf create_pretraining_data not available: {why}.")

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench_ptd_"))
    vocab_txt = work / "wordpiece_vocab.txt"
    vocab_txt.write_text("\n".join(spm_vocab_to_wordpiece(
        str(Path(args.spm_model).with_suffix(".vocab")), char_words=True)) + "\n",
        encoding="utf-8")
    try:
        for scale in scales:
            inputs, nbytes = build_corpus(files, scale, work)
            mb = nbytes / MB
            plan = []
            if "peer" in tools:
                for tok in peer_toks:
                    plan.append(("peer", tok))
            if "ours" in tools:
                for extra in args.ours_args or [""]:
                    plan.append(("ours", extra))
            for kind, tok in plan:
                if kind == "peer":
                    name = ("Model Garden (WordPiece" if tok == "wordpiece"
                            else "Model Garden (SentencePiece")
                    name += (", " + args.peer_args + ")") if args.peer_args else ")"
                    if not have_peer:
                        rows.append(dict(scale=scale, mb=mb, tool=name, status="not available"))
                        continue
                else:
                    name = f"albert-tf ({args.workers} workers" + (f", {tok})" if tok else ")")
                    if not have_ours:
                        rows.append(dict(scale=scale, mb=mb, tool=name, status="not available"))
                        continue
                out_dir = Path(tempfile.mkdtemp(prefix=f"{kind}_x{scale}_", dir="/tmp"))
                log = work / f"{kind}_{len(rows)}_x{scale}.log"
                cmd = (peer_cmd(args, inputs, str(out_dir), tok, str(vocab_txt))
                       if kind == "peer" else ours_cmd(args, inputs, str(out_dir), tok))
                timeout = args.peer_timeout if kind == "peer" else args.ours_timeout
                print(f"[{time.strftime('%H:%M:%S')}] {scale}x {name}: {mb:.2f} MB ...",
                      file=sys.stderr, flush=True)
                m = run_measured(cmd, log, timeout, args.sample_interval, args.pss_interval, env)
                row = dict(scale=scale, mb=mb, tool=name, **m)
                if m["timed_out"]:
                    row["status"] = f"timed out ({timeout:.0f} s)"
                elif m["rc"] != 0:
                    row["status"] = f"failed (rc {m['rc']})"
                    notes.append(f"{name} at {scale}× failed: " + " / ".join(tail(log, 3))[:400])
                else:
                    row["status"] = "ok"
                    if kind == "peer":
                        row["instances"], src = peer_instances(out_dir, log, args.peer_python)
                    else:
                        row["instances"], src = ours_instances(out_dir, args.ours_python)
                    row["instances_from"] = src
                rows.append(row)
                print(f"    {row['status']}: {m['wall_s']:.1f} s, "
                      f"{mb / (m['wall_s'] / 60):.2f} MB/min, instances {row.get('instances')}, "
                      f"RSS sum {m['peak_rss_sum'] / MIB:.0f} MiB, single "
                      f"{m['peak_rss_single'] / MIB:.0f} MiB, PSS {m['peak_pss_sum'] / MIB:.0f} "
                      f"MiB", file=sys.stderr, flush=True)
                if not args.keep:
                    shutil.rmtree(out_dir, ignore_errors=True)
                else:
                    notes.append(f"{name} {scale}× output kept in {out_dir}, log {log}")
            if scale != 1 and not args.keep:
                for f in inputs:
                    Path(f).unlink(missing_ok=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    facts["load_after"] = loadavg()
    text = render(args, facts, rows, notes)
    write_atomic(args.out, text)
    print(text)
    if args.json:
        write_atomic(args.json, json.dumps(dict(facts=facts, rows=rows, notes=notes), indent=1,
                                           default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
