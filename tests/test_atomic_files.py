"""Atomic writes: final files and directories get the usual permissions, stale temporaries of dead
processes are removed on the next run (and nothing else is)."""

import json
import os
import stat
import subprocess
import sys
import tempfile

import pytest

from albert_tf import atomic_files
from albert_tf.config import AlbertConfig


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield 0o027
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_published_files_and_directories_follow_the_umask(tmp_path, umask_027):
    # mkstemp / mkdtemp make 0600 / 0700: without the fix nobody but the owner could read the results.
    AlbertConfig(vocab_size=30).to_json_file(str(tmp_path / "albert_config.json"))
    assert _mode(tmp_path / "albert_config.json") == 0o640
    with atomic_files.replacing(tmp_path / "out.json", encoding="utf-8") as f:
        json.dump({"a": 1}, f)
    assert _mode(tmp_path / "out.json") == 0o640
    temporary = atomic_files.temporary_dir(str(tmp_path), "export")
    assert _mode(temporary) == 0o700
    (tmp_path / "export").mkdir()
    atomic_files.publish_dir_replacing(temporary, str(tmp_path / "export"))
    assert _mode(tmp_path / "export") == 0o750
    os.umask(0o002)
    with atomic_files.replacing(tmp_path / "shared.txt") as f:
        f.write("x")
    assert _mode(tmp_path / "shared.txt") == 0o664


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    (tmp_path / "result.json").write_text("old")
    with pytest.raises(OSError, match="No space left"):
        with atomic_files.replacing(tmp_path / "result.json") as f:
            f.write("half")
            raise OSError(28, "No space left on device")
    assert (tmp_path / "result.json").read_text() == "old"
    assert os.listdir(tmp_path) == ["result.json"]


def test_stale_temporaries_of_dead_processes_are_cleaned_and_nothing_else(tmp_path):
    host = atomic_files.host_name()
    dead = tmp_path / f".tmp-export~{_dead_pid()}@{host}~abc123"
    dead.mkdir()
    (dead / "saved_model.pb").write_bytes(b"x" * 100)
    live = tmp_path / f".tmp-export~{os.getppid()}@{host}~def456"
    live.mkdir()
    elsewhere = tmp_path / f".tmp-export~{_dead_pid()}@another-host~ghi789"
    elsewhere.mkdir()
    foreign = tmp_path / ".tmp-someone-elses"
    foreign.mkdir()
    (tmp_path / "notes.txt").write_text("keep")
    removed = atomic_files.clean_stale_temporaries(str(tmp_path))
    assert removed == [str(dead)]
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, elsewhere.name, foreign.name, "notes.txt"])


def test_the_next_temporary_in_a_directory_cleans_it(tmp_path):
    stale = tmp_path / f".tmp-model.ckpt~{_dead_pid()}@{atomic_files.host_name()}~x1"
    stale.write_bytes(b"partial")
    fd, path = atomic_files.temporary_file(str(tmp_path), "model.ckpt")
    os.close(fd)
    assert not stale.exists()
    assert atomic_files.owner_of(os.path.basename(path)) == (os.getpid(), atomic_files.host_name())


def test_directory_swap_keeps_a_complete_directory_under_the_final_name(tmp_path):
    final = tmp_path / "export"
    final.mkdir()
    (final / "old.txt").write_text("old")
    temporary = atomic_files.temporary_dir(str(tmp_path), "export")
    with open(os.path.join(temporary, "new.txt"), "w", encoding="utf-8") as f:
        f.write("new")
    atomic_files.publish_dir_replacing(temporary, str(final))
    assert os.listdir(final) == ["new.txt"] and os.listdir(tmp_path) == ["export"]


def test_every_writer_names_its_temporaries_so_a_killed_runs_leftovers_are_cleaned(tmp_path):
    # Shards, dataset meta, feature caches and model-dir files write through their own openers; their
    # temporaries must carry the owner too, or the leftovers of a kill -9 stay forever.
    from albert_tf.data.meta import META_NAME
    from albert_tf.data.tfrecord import TFRecordWriter
    from albert_tf.training import artifacts

    dead = _dead_pid()
    leftovers = [tmp_path / f".tmp-{name}~{dead}@{atomic_files.host_name()}~1234" for name in
                 ("part-00000.tfrecord", META_NAME, "cache.npz", "results.json")]
    for path in leftovers:
        path.write_text("half")
    writer = TFRecordWriter(tmp_path / "part-00001.tfrecord")
    assert atomic_files.owner_of(os.path.basename(writer._temp))[0] == os.getpid()  # pylint: disable=protected-access
    writer.write(b"record")
    writer.close()
    artifacts.write_json(str(tmp_path / "results.json"), {"f1": 1.0})
    assert sorted(os.listdir(tmp_path)) == ["part-00001.tfrecord", "results.json"]


def test_the_export_checks_scratch_left_by_a_kill_is_cleaned_by_the_next_check(tmp_path, monkeypatch):
    from albert_tf.export import self_check

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    left = tmp_path / f".tmp-albert-export-check~{_dead_pid()}@{atomic_files.host_name()}~abcd"
    left.mkdir()
    (left / "outputs.npz").write_bytes(b"half")
    with self_check._scratch_dir() as scratch:  # pylint: disable=protected-access
        assert os.path.dirname(scratch) == str(tmp_path)
        assert not left.exists()
    assert os.listdir(tmp_path) == []


def test_a_failed_writer_through_publishing_leaves_the_old_file_and_no_temporary(tmp_path):
    """The tf.io.gfile path (also gs://): feature caches, results and copies go through `publishing`."""
    from albert_tf.training import artifacts

    target = tmp_path / "cache.tfrecord"
    target.write_text("old")
    with pytest.raises(OSError, match="No space left"):
        with artifacts.publishing(str(target)) as temp:
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write("half")
            raise OSError(28, "No space left on device")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["cache.tfrecord"]
    with artifacts.publishing(str(target)) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["cache.tfrecord"]


def test_write_text_publishes_the_whole_text(tmp_path):
    atomic_files.write_text(tmp_path / "report.md", "| a |\n")
    assert (tmp_path / "report.md").read_text() == "| a |\n"
    assert os.listdir(tmp_path) == ["report.md"]
