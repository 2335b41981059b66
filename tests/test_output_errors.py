"""Unwritable or full output locations: one line `cannot write <path>: <cause>`, no traceback, nothing half-made.

Running as root, chmod does not stop writes, so the full disk and the read-only location are injected
(an OSError raised where the writer writes) or made real with a regular file where a directory must be.
"""

import errno
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

from albert_tf import output_errors
from conftest import FIXTURES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFICIAL = FIXTURES / "parity" / "tf1_official"


def test_write_failures_name_the_output_and_the_cause(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(output_errors.OutputError, match=f"cannot write {target}: No space left on device"):
        with output_errors.writing(target):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    # A temporary name next to the output is reported as the output the user asked for.
    with pytest.raises(output_errors.OutputError, match=f"cannot write {target}: Read-only file system"):
        with output_errors.writing(target):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / ".tmp-out~1@h~x"))
    # An unreadable input elsewhere, or an error that is not about writing, passes through unchanged.
    with pytest.raises(PermissionError):
        with output_errors.writing(target):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/elsewhere/input.txt")
    with pytest.raises(ValueError):
        with output_errors.writing(target):
            raise ValueError("bad data")
    error = output_errors.OutputError(target, "No space left on device")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)  # crosses worker pools intact


def test_tensorflow_write_errors_are_named_too(tmp_path):
    import tensorflow as tf
    with pytest.raises(output_errors.OutputError, match=f"cannot write {tmp_path}: .*Permission denied"):
        with output_errors.writing(tmp_path):
            raise tf.errors.PermissionDeniedError(None, None, "Permission denied")
    with pytest.raises(tf.errors.InvalidArgumentError):
        with output_errors.writing(tmp_path):
            raise tf.errors.InvalidArgumentError(None, None, "shapes differ")


def _run_with_injection(tmp_path, injection, module, argv):
    """Run a console command in a fresh process after `injection` (Python source) has run."""
    script = "\n".join(["import errno, os, sys", injection, f"sys.argv = {argv!r}", f"from {module} import run",
                        "run()"])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300, check=False)


ENOSPC = ("def _full(*args, **kwargs):\n"
          "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n")


def _one_clear_line(result, command, target, cause):
    assert result.returncode != 0
    assert f"{command}: error: cannot write {target}: {cause}" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def test_convert_to_a_full_disk_or_under_a_file(tmp_path):
    out = tmp_path / "hf"
    full = _run_with_injection(tmp_path, ENOSPC + "import safetensors.numpy\nsafetensors.numpy.save_file = _full",
                               "albert_tf.cli.convert",
                               ["albert-convert", f"--input={OFFICIAL}", "--output_format=hf", f"--output={out}"])
    _one_clear_line(full, "albert-convert", out, "No space left on device")
    assert not (out / "model.safetensors").exists() and not [p for p in out.iterdir() if p.name.startswith(".")]
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    under = subprocess.run([sys.executable, "-m", "albert_tf.cli.convert", f"--input={OFFICIAL}",
                            "--output_format=hf", f"--output={blocker / 'hf'}"], capture_output=True, text=True,
                           timeout=300, check=False)
    _one_clear_line(under, "albert-convert", blocker / "hf", "Not a directory")


def test_data_tool_names_the_shard_on_a_full_disk(tmp_path):
    import tokenization_testlib as testlib  # pylint: disable=import-outside-toplevel
    spm = testlib.build_spm_model(tmp_path)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(testlib.corpus_lines(n=40)) + "\n", encoding="utf-8")
    out = tmp_path / "data"
    injection = ENOSPC + textwrap.dedent("""
        from albert_tf.data import tfrecord
        _write = tfrecord.TFRecordWriter.write
        def _write_until_full(self, record):
            if self.num_records >= 3:
                self._file.write = _full
            _write(self, record)
        tfrecord.TFRecordWriter.write = _write_until_full
    """)
    result = _run_with_injection(tmp_path, injection, "albert_tf.cli.create_pretraining_data",
                                 ["albert-create-pretraining-data", f"--input_file={corpus}", f"--output_dir={out}",
                                  f"--spm_model_file={spm}", "--max_seq_length=32", "--max_predictions_per_seq=5"])
    assert result.returncode != 0
    assert f"error: cannot write {out}/" in result.stderr and ".tfrecord: No space left on device" in result.stderr, \
        result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not list(out.glob("*.tfrecord")) and not (out / "dataset_meta.json").exists()


@pytest.fixture(scope="module")
def classifier_checkpoint(tmp_path_factory):
    """A tiny SST-2 classifier checkpoint (32 positions) with its tokenizer."""
    from albert_tf.checkpoints import save_tf1
    from albert_tf.config import AlbertConfig
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder
    from albert_tf.tokenization import SentencePieceTokenizer, save_tokenizer_assets
    import tokenization_testlib as testlib  # pylint: disable=import-outside-toplevel
    base = tmp_path_factory.mktemp("classifier")
    tokenizer = SentencePieceTokenizer(str(testlib.build_spm_model(base)))
    config = AlbertConfig(vocab_size=tokenizer.vocab_size, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=16, max_position_embeddings=32)
    checkpoint = base / "best_checkpoint"
    save_tf1(AlbertClassifier(AlbertEncoder(config), 2), str(checkpoint / "model.ckpt"))
    save_tokenizer_assets(tokenizer, str(checkpoint))
    return checkpoint / "model.ckpt"


def test_export_to_a_full_disk_leaves_nothing(tmp_path, classifier_checkpoint):
    checkpoint = classifier_checkpoint.parent
    export_dir = tmp_path / "exports" / "sst2"
    result = _run_with_injection(
        tmp_path, ENOSPC + "import tensorflow as tf\ntf.saved_model.save = _full", "albert_tf.cli.export",
        ["albert-export", "--kind=classifier", f"--checkpoint={checkpoint}/model.ckpt", "--task_name=SST-2",
         "--max_seq_length=16", f"--export_dir={export_dir}", "--noself_check"])
    _one_clear_line(result, "albert-export", export_dir, "No space left on device")
    assert not export_dir.exists()
    assert not export_dir.parent.exists() or not list(export_dir.parent.iterdir())  # no temporary left


def _predict(tmp_path, *flags, injection=None):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(f'{{"text": "the fox number {i}"}}\n' for i in range(5)))
    argv = ["albert-predict", f"--input_file={rows}", "--inputs=text", "--task_name=SST-2", *flags]
    if injection:
        return _run_with_injection(tmp_path, injection, "albert_tf.cli.predict", argv)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "albert_tf.cli.predict", *argv[1:]], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300, check=False)


def test_predict_checks_every_flag_and_the_output_before_reading(tmp_path, classifier_checkpoint):
    out = tmp_path / "out.jsonl"
    long = _predict(tmp_path, f"--model={classifier_checkpoint}", "--max_seq_length=64", f"--output_file={out}")
    assert long.returncode != 0 and "Traceback" not in long.stderr
    assert (f"albert-predict: error: --max_seq_length=64: exceeds the max_position_embeddings (32) of "
            f"--model={classifier_checkpoint}") in long.stderr, long.stderr[-3000:]
    missing = _predict(tmp_path, "--model=/nonexistent/model.ckpt", f"--output_file={out}")
    assert "albert-predict: error: --model=/nonexistent/model.ckpt: checkpoint not found" in missing.stderr, \
        missing.stderr[-3000:]
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    under = _predict(tmp_path, f"--model={classifier_checkpoint}", "--max_seq_length=16",
                     f"--output_file={blocker / 'out.jsonl'}")
    _one_clear_line(under, "albert-predict", blocker / "out.jsonl", "Not a directory")
    assert not out.exists()


def test_predict_to_a_full_disk_names_the_output(tmp_path, classifier_checkpoint):
    out = tmp_path / "preds" / "out.jsonl"
    # The disk fills while the predictions are moved into place.
    injection = ENOSPC + "os.replace = _full"
    full = _predict(tmp_path, f"--model={classifier_checkpoint}", "--max_seq_length=16", f"--output_file={out}",
                    injection=injection)
    _one_clear_line(full, "albert-predict", out, "No space left on device")
    assert not out.exists() and not list(out.parent.iterdir())


def test_an_output_location_is_probed_without_creating_anything(tmp_path):
    output_errors.check_writable(tmp_path / "new" / "deeper" / "out.jsonl")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(output_errors.OutputError, match=f"cannot write {tmp_path}/a_file/out.jsonl: Not a directory"):
        output_errors.check_writable(tmp_path / "a_file" / "out.jsonl")
    with pytest.raises(output_errors.OutputError, match=f"cannot write {tmp_path}: Is a directory"):
        output_errors.check_writable(tmp_path)
    output_errors.check_writable(tmp_path, is_directory=True)  # an export directory, replaced whole
    with pytest.raises(output_errors.OutputError, match=f"cannot write {tmp_path}/a_file: Not a directory"):
        output_errors.check_writable(tmp_path / "a_file", is_directory=True)


def test_export_under_a_file_fails_before_reading_the_checkpoint(tmp_path):
    (tmp_path / "a_file").write_text("x")
    target = tmp_path / "a_file" / "export"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-m", "albert_tf.cli.export", "--kind=encoder",
                           f"--checkpoint={tmp_path / 'absent.ckpt'}", f"--export_dir={target}"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    _one_clear_line(done, "albert-export", target, "Not a directory")


def test_a_remote_output_location_is_probed_through_the_file_system_layer():
    """ram:// (standing for gs://): a file where a directory must go is named; the probe leaves nothing."""
    from albert_tf import filesystem  # pylint: disable=import-outside-toplevel

    root = f"ram://probe-{os.getpid()}"
    output_errors.check_writable(filesystem.join(root, "new", "run"), is_directory=True)
    assert not filesystem.exists(root)
    filesystem.makedirs(root)
    filesystem.write_text(filesystem.join(root, "taken"), "x")
    with pytest.raises(output_errors.OutputError, match=f"cannot write {root}/taken: Not a directory"):
        output_errors.check_writable(filesystem.join(root, "taken"), is_directory=True)
    output_errors.check_writable(filesystem.join(root, "out.jsonl"))
    assert filesystem.listdir(root) == ["taken"]
