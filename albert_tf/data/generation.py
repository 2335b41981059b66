"""The pretraining-data generator: corpus -> masked (or unmasked) sentence pairs -> TFRecord shards.

Each work unit (see `corpus`) is processed independently: read its documents, tokenize, shuffle
them, and for every dupe pass build pairs from every document, shuffle the pass, mask, and write.
A unit's random draws all come from generators seeded with (random_seed, unit index), and each
unit writes its own shard, so the output is byte-identical for the same inputs and seed whatever
the number of workers. Memory is bounded by the unit size, not the corpus size. Random "other"
documents (SOP single-segment chunks, NSP negatives) are drawn from the same unit.
"""

import dataclasses
import multiprocessing
import os
import random
import sys
import time
from typing import Callable, List, Optional

import numpy as np

from albert_tf import __version__, child_processes, filesystem
from albert_tf.data import corpus, instances as instances_lib, masking, meta as meta_lib
from albert_tf.data import word_boundaries
from albert_tf.data.example_proto import serialize_examples
from albert_tf.data.statistics import GenerationStats
from albert_tf.data.tfrecord import TEMP_PREFIX, TFRecordWriter
from albert_tf.model_inputs import (INPUT_MASK, MASKED_LM_IDS, MASKED_LM_POSITIONS, MASKED_LM_WEIGHTS,
                                    RECORD_INPUT_IDS, RECORD_ORDER_LABEL, RECORD_SEGMENT_IDS, TOKEN_BOUNDARY)
from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer
from albert_tf.tokenization.assets import CONFIG_NAME as TOKENIZER_CONFIG
from albert_tf.tokenization.assets import save_tokenizer_assets

SHARD_PREFIX = "pretrain"
MAX_POSITIONS = 512  # the position table of every released ALBERT model


class GenerationError(ValueError):
    """Bad generator settings or output location; the message names the flag."""


@dataclasses.dataclass(frozen=True)
class TokenizerSpec:
    spm_model_file: Optional[str] = None
    vocab_file: Optional[str] = None
    do_lower_case: bool = True
    keep_accents: bool = False  # SentencePiece only (WordPiece keeps accents exactly when it does not lowercase)

    def build(self):
        if bool(self.spm_model_file) == bool(self.vocab_file):
            raise GenerationError("pass exactly one of --spm_model_file (English SentencePiece) or "
                                  "--vocab_file (WordPiece vocab.txt)")
        path = self.spm_model_file or self.vocab_file
        flag = "--spm_model_file" if self.spm_model_file else "--vocab_file"
        if not filesystem.isfile(path):
            raise GenerationError(f"{flag}={path}: file not found")
        if self.vocab_file and self.keep_accents and self.do_lower_case:
            raise GenerationError("--keep_accents applies to --spm_model_file; a WordPiece vocab keeps accents "
                                  "exactly when --nodo_lower_case")
        try:
            if self.spm_model_file:
                return SentencePieceTokenizer(path, do_lower_case=self.do_lower_case, keep_accents=self.keep_accents)
            return WordPieceTokenizer(path, do_lower_case=self.do_lower_case)
        except Exception as error:  # a corrupt model or vocab: name the file, keep the cause
            raise GenerationError(f"{flag}={path}: cannot load ({error})") from error


@dataclasses.dataclass(frozen=True)
class GenerationSettings:
    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    dupe_factor: int = 40
    short_seq_prob: float = 0.1
    ngram: int = 3
    favor_shorter_ngram: bool = True
    do_whole_word_mask: bool = True
    random_next_sentence: bool = False
    zh_whole_word_mask: bool = False
    dynamic_masking: bool = False
    random_seed: int = 12345
    unit_bytes: int = 1 << 20
    max_line_chars: int = 1_000_000
    invalid_utf8: str = "error"

    def validate(self):
        def need(condition, flag, message):
            if not condition:
                raise GenerationError(f"--{flag}={getattr(self, flag)}: {message}")

        need(5 <= self.max_seq_length <= MAX_POSITIONS, "max_seq_length",
             f"must be in [5, {MAX_POSITIONS}] (ALBERT's position table has {MAX_POSITIONS} entries)")
        need(1 <= self.max_predictions_per_seq <= self.max_seq_length - 3, "max_predictions_per_seq",
             f"must be in [1, max_seq_length - 3 = {self.max_seq_length - 3}]")
        need(0.0 < self.masked_lm_prob < 1.0, "masked_lm_prob", "must be in (0, 1)")
        need(self.dupe_factor >= 1, "dupe_factor", "must be >= 1")
        need(0.0 <= self.short_seq_prob <= 1.0, "short_seq_prob", "must be in [0, 1]")
        need(1 <= self.ngram <= 10, "ngram", "must be in [1, 10]")
        need(self.unit_bytes >= 1024, "unit_bytes", "must be at least 1024")
        need(self.max_line_chars >= 1, "max_line_chars", "must be >= 1")
        need(self.invalid_utf8 in ("error", "skip"), "invalid_utf8", "must be 'error' or 'skip'")
        if self.zh_whole_word_mask and not self.do_whole_word_mask:
            raise GenerationError("--zh_whole_word_mask needs --do_whole_word_mask")

    @property
    def masking_settings(self) -> masking.MaskingSettings:
        return masking.MaskingSettings(self.max_predictions_per_seq, self.masked_lm_prob, self.ngram,
                                       self.favor_shorter_ngram, self.do_whole_word_mask)


@dataclasses.dataclass
class UnitResult:
    index: int
    shard: str
    instances: int
    sha256: str
    num_bytes: int
    stats: GenerationStats
    warnings: List[str]


def shard_name(index: int, count: int) -> str:
    return f"{SHARD_PREFIX}-{index:05d}-of-{count:05d}.tfrecord"


# === Worker side ===
_CACHE = {}


def _worker_tools(spec: TokenizerSpec, zh_whole_word_mask: bool):
    key = (spec, zh_whole_word_mask)
    if key not in _CACHE:
        _CACHE.clear()
        tokenizer = spec.build()
        segmenter = word_boundaries.ChineseWordSegmenter() if zh_whole_word_mask else None
        _CACHE[key] = (tokenizer, word_boundaries.start_table(tokenizer), segmenter)
    return _CACHE[key]


def unit_generators(random_seed: int, unit_index: int):
    """Generators seeded from (random_seed, unit index) only: (python Random for pair building,
    numpy Generator for truncation, numpy Generator for masking).

    Masking has a stream of its own so the pairs are the same with and without masking (static
    and dynamic datasets made with one seed hold the same pairs).
    """
    seed_sequence = np.random.SeedSequence([random_seed, unit_index])
    pairs_seed, masking_seed = seed_sequence.spawn(2)
    python_seed = int(pairs_seed.generate_state(1, np.uint64)[0])
    return (random.Random(python_seed), np.random.default_rng(pairs_seed),
            np.random.default_rng(masking_seed))


_ENCODE_BATCH_LINES = 4096  # lines per batched tokenizer call (its per-call overhead is large)


def _tokenize_documents(documents_lines, tokenizer, table, segmenter, stats):
    """Token documents (lists of (ids, word starts) segments); lines with no tokens are dropped."""
    lines = [line for lines in documents_lines for line in lines]
    if segmenter is None:
        encoded = []
        for begin in range(0, len(lines), _ENCODE_BATCH_LINES):
            encoded.extend(tokenizer.encode_batch(lines[begin:begin + _ENCODE_BATCH_LINES]))
        segments = []
        for ids in encoded:
            array = np.asarray(ids, np.int32)
            segments.append((array, table[array]))
    else:
        segments = []
        for line in lines:
            ids, starts = segmenter.token_starts(tokenizer, line)
            segments.append((np.asarray(ids, np.int32), np.asarray(starts, np.uint8)))
    documents, cursor = [], 0
    for lines_of_document in documents_lines:
        document = [s for s in segments[cursor:cursor + len(lines_of_document)] if len(s[0])]
        cursor += len(lines_of_document)
        stats.tokens += sum(len(s[0]) for s in document)
        if document:
            documents.append(document)
        else:
            stats.skipped_empty_documents += 1
    return documents


# Rows masked and serialized together: large enough to amortize NumPy's per-call cost, small
# enough that the block's arrays stay a few MB whatever the unit size.
_ROWS_PER_BLOCK = 2048


def _block_records(pass_instances, masker, settings, pad_id, stats) -> list:
    """Serialized Examples for consecutive instances of a shuffled pass (masked unless dynamic)."""
    width = settings.max_seq_length
    packed = instances_lib.pack_instances(pass_instances, width)
    rows = masking.PaddedRows(packed.input_ids, packed.is_start, packed.special, packed.lengths)
    real = np.arange(width)[None, :] < rows.lengths[:, None]
    ints = {
        INPUT_MASK: real.astype(np.uint8),
        RECORD_SEGMENT_IDS: packed.segment_ids,
        TOKEN_BOUNDARY: rows.is_start.astype(np.uint8),
        RECORD_ORDER_LABEL: np.array([[i.label] for i in pass_instances], np.uint8),
    }
    floats = {}
    input_ids = rows.input_ids
    if masker is not None:
        masked = masker.mask_rows(rows)
        input_ids = masked.input_ids
        ints[MASKED_LM_POSITIONS] = masked.positions
        ints[MASKED_LM_IDS] = masked.labels
        slots = np.arange(settings.max_predictions_per_seq)[None, :]
        floats[MASKED_LM_WEIGHTS] = (slots < masked.num_predictions[:, None]).astype(np.float32)
        _count_masking(stats, masked)
    ints[RECORD_INPUT_IDS] = np.where(real, input_ids, pad_id)
    stats.instances += len(pass_instances)
    stats.real_tokens += int(rows.lengths.sum())
    for instance in pass_instances:
        stats.truncated_instances += instance.truncated
        stats.label_one += instance.label
        stats.b_from_other_document += instance.b_from_other_document
    return serialize_examples(ints, floats)


def process_unit(job) -> UnitResult:
    """Generate one shard from one work unit (runs in a worker process)."""
    settings, spec, unit, output_path = job
    tokenizer, table, segmenter = _worker_tools(spec, settings.zh_whole_word_mask)
    python_rng, numpy_rng, masking_rng = unit_generators(settings.random_seed, unit.index)
    stats = GenerationStats(input_bytes=unit.num_bytes)
    warnings: List[str] = []
    counters = corpus.ReadCounters()

    documents_lines = list(corpus.iter_documents(unit, counters, max_line_chars=settings.max_line_chars,
                                                 invalid_utf8=settings.invalid_utf8, warn=warnings.append))
    documents = _tokenize_documents(documents_lines, tokenizer, table, segmenter, stats)
    del documents_lines
    stats.lines, stats.documents = counters.lines, len(documents)
    stats.skipped_long_lines = counters.skipped_long_lines
    stats.skipped_invalid_lines = counters.skipped_invalid_lines
    python_rng.shuffle(documents)

    builder = instances_lib.PairBuilder(
        instances_lib.PairSettings(settings.max_seq_length, settings.short_seq_prob,
                                   settings.random_next_sentence),
        tokenizer.cls_id, tokenizer.sep_id, python_rng, numpy_rng)
    masker = None
    if not settings.dynamic_masking:
        masker = masking.Masker(settings.masking_settings, tokenizer.vocab_size, tokenizer.mask_id,
                                masking_rng)
    with TFRecordWriter(output_path) as writer:
        for _ in range(settings.dupe_factor):
            pass_instances = []
            for index in range(len(documents)):
                pass_instances.extend(builder.from_document(documents, index))
            python_rng.shuffle(pass_instances)
            for begin in range(0, len(pass_instances), _ROWS_PER_BLOCK):
                block = pass_instances[begin:begin + _ROWS_PER_BLOCK]
                for record in _block_records(block, masker, settings, tokenizer.pad_id, stats):
                    writer.write(record)
    return UnitResult(unit.index, os.path.basename(output_path), writer.num_records, writer.sha256,
                      writer.num_bytes, stats, warnings)


def _count_masking(stats, masked: masking.MaskedRows):
    stats.predictions += int(masked.num_predictions.sum())
    stats.replaced_with_mask += masked.replaced_with_mask
    stats.kept_original += masked.kept
    stats.replaced_random += masked.randomized
    for counter, histogram in ((stats.ngram_drawn, masked.ngram_drawn), (stats.ngram_used, masked.ngram_used)):
        for n in np.flatnonzero(histogram):
            counter[int(n)] += int(histogram[n])


# === Main process ===
def prepare_output_dir(output_dir: str, overwrite: bool, log: Callable[[str], None]):
    """Create the local `output_dir`; refuse to clobber a finished dataset unless `overwrite`."""
    try:
        filesystem.makedirs(output_dir)
    except OSError as error:
        raise GenerationError(f"--output_dir={output_dir}: cannot create ({error.strerror})") from None
    if not os.access(output_dir, os.W_OK):
        raise GenerationError(f"--output_dir={output_dir}: not writable")
    meta_path = filesystem.join(output_dir, meta_lib.META_NAME)
    shards = filesystem.glob(filesystem.join(output_dir, f"{SHARD_PREFIX}-*-of-*.tfrecord"))
    if filesystem.exists(meta_path):
        if not overwrite:
            raise GenerationError(f"--output_dir={output_dir} already holds a dataset ({meta_lib.META_NAME}); "
                                  "pass --overwrite to replace it or choose another directory")
        filesystem.remove(meta_path)  # first, so an interrupted overwrite never leaves a stale meta behind
        filesystem.remove(filesystem.join(output_dir, TOKENIZER_CONFIG))
    elif shards:
        log(f"removing {len(shards)} shard(s) of an unfinished earlier run in {output_dir}")
    for path in shards + filesystem.glob(filesystem.join(output_dir, f"{TEMP_PREFIX}*")):
        filesystem.remove(path)


def _why_no_instances(stats: GenerationStats, settings: GenerationSettings) -> str:
    """Why no line of the corpus became a sentence pair (every document with a token gives one)."""
    reasons = []
    if stats.skipped_long_lines:
        reasons.append(f"{stats.skipped_long_lines:,} line(s) longer than --max_line_chars="
                       f"{settings.max_line_chars:,} characters were skipped (the corpus needs one sentence or "
                       "paragraph per line, documents separated by blank lines)")
    if stats.skipped_invalid_lines:
        reasons.append(f"{stats.skipped_invalid_lines:,} line(s) of invalid UTF-8 were skipped")
    if stats.skipped_empty_documents:
        reasons.append(f"{stats.skipped_empty_documents:,} document(s) gave no token (blank, or only characters "
                       "the tokenizer drops)")
    if not reasons:
        reasons.append(f"no document was read from {stats.lines:,} line(s)")
    return "; ".join(reasons)


def _format_eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def generate(input_file: str, output_dir: str, settings: GenerationSettings, spec: TokenizerSpec, *,
             num_workers: int = 1, overwrite: bool = False, log: Callable[[str], None] = print):
    """Run the whole job; returns the written `DatasetMeta`.

    The worker processes write local files. For an output directory elsewhere (`gs://`) the dataset is
    made in local scratch space, then copied there with `dataset_meta.json` last: until it is there,
    the trainer sees no dataset (see `filesystem`).
    """
    if filesystem.is_local(output_dir):
        return _generate_here(input_file, output_dir, settings, spec, num_workers=num_workers,
                              overwrite=overwrite, log=log)
    meta_path = filesystem.join(output_dir, meta_lib.META_NAME)
    if filesystem.exists(meta_path) and not overwrite:
        raise GenerationError(f"--output_dir={output_dir} already holds a dataset ({meta_lib.META_NAME}); "
                              "pass --overwrite to replace it or choose another directory")
    with filesystem.scratch_dir("albert-tf-pretraining-data-") as staging:
        meta = _generate_here(input_file, os.path.join(staging, "data"), settings, spec, num_workers=num_workers,
                              overwrite=False, log=log)
        filesystem.makedirs(output_dir)
        filesystem.remove(meta_path)  # first, so an interrupted overwrite never leaves a stale meta behind
        for path in filesystem.glob(filesystem.join(output_dir, f"{SHARD_PREFIX}-*-of-*.tfrecord")):
            filesystem.remove(path)
        log(f"copying the dataset to {output_dir}")
        filesystem.copy_tree(os.path.join(staging, "data"), output_dir, last=(meta_lib.META_NAME,))
        return meta


def _generate_here(input_file: str, output_dir: str, settings: GenerationSettings, spec: TokenizerSpec, *,
                   num_workers: int = 1, overwrite: bool = False, log: Callable[[str], None] = print):
    """`generate` into a local directory."""
    settings.validate()
    if num_workers < 1:
        raise GenerationError(f"--num_workers={num_workers}: must be >= 1")
    tokenizer = spec.build()
    if settings.zh_whole_word_mask:
        if tokenizer.settings.type != "wordpiece":
            raise GenerationError("--zh_whole_word_mask works on WordPiece vocabularies (--vocab_file)")
        word_boundaries.ChineseWordSegmenter()  # fail now if jieba is missing
    if num_workers > 1:
        _worker_tools(spec, settings.zh_whole_word_mask)  # forked workers inherit them ready to use
    files = corpus.resolve_input_files(input_file)
    if settings.invalid_utf8 == "error":
        for path in files:
            corpus.check_utf8(path)
    for path in files:
        if filesystem.size(path) == 0:
            log(f"warning: {path} is empty; skipped")
    units = corpus.plan_units(files, settings.unit_bytes)
    if not units:
        raise corpus.CorpusError(f"--input_file={input_file}: every file is empty")
    prepare_output_dir(output_dir, overwrite, log)

    jobs = [(settings, spec, unit, os.path.join(output_dir, shard_name(unit.index, len(units))))
            for unit in units]
    jobs.sort(key=lambda job: -job[2].num_bytes)  # big units first keeps workers evenly busy
    total_bytes = sum(u.num_bytes for u in units)
    log(f"{len(files)} file(s), {total_bytes / 1e6:.1f} MB, {len(units)} work unit(s), "
        f"{num_workers} worker(s) -> {output_dir}")

    results: List[UnitResult] = []
    started = time.time()
    try:
        for result in _run_jobs(jobs, num_workers):
            results.append(result)
            for warning in result.warnings:
                log(f"warning: {warning}")
            done = sum(r.stats.input_bytes for r in results)
            elapsed = max(time.time() - started, 1e-9)
            documents = sum(r.stats.documents for r in results)
            log(f"[{len(results)}/{len(units)}] {done / 1e6:.1f}/{total_bytes / 1e6:.1f} MB, "
                f"{documents / elapsed:,.0f} documents/s, {done / 1e6 / elapsed * 60:.1f} MB/min, "
                f"ETA {_format_eta(elapsed * (total_bytes - done) / max(done, 1))}")
    except BaseException:
        for path in filesystem.glob(filesystem.join(output_dir, f"{TEMP_PREFIX}*")):
            filesystem.remove(path)
        raise

    results.sort(key=lambda r: r.index)
    stats = GenerationStats()
    for result in results:
        stats.merge(result.stats)
    if stats.instances == 0:  # a dataset with no record would make the trainer wait forever
        for result in results:
            filesystem.remove(filesystem.join(output_dir, result.shard))
        raise GenerationError(f"--input_file={input_file} gave 0 training instances, so no dataset was written "
                              f"to {output_dir}: {_why_no_instances(stats, settings)}")
    meta = meta_lib.DatasetMeta(
        max_seq_length=settings.max_seq_length, max_predictions_per_seq=settings.max_predictions_per_seq,
        masking="dynamic" if settings.dynamic_masking else "static",
        objective="nsp" if settings.random_next_sentence else "sop",
        masked_lm_prob=settings.masked_lm_prob, ngram=settings.ngram,
        favor_shorter_ngram=settings.favor_shorter_ngram, do_whole_word_mask=settings.do_whole_word_mask,
        zh_whole_word_mask=settings.zh_whole_word_mask, dupe_factor=settings.dupe_factor,
        short_seq_prob=settings.short_seq_prob, random_seed=settings.random_seed,
        unit_bytes=settings.unit_bytes, tokenizer=tokenizer.settings.to_dict(),
        instances=stats.instances,
        shards=[{"file": r.shard, "instances": r.instances, "bytes": r.num_bytes, "sha256": r.sha256}
                for r in results],
        inputs=[{"path": os.path.abspath(p) if filesystem.is_local(p) else p, "bytes": filesystem.size(p)}
                for p in files],
        statistics=stats.summary(), created_by=f"albert-tf {__version__}")
    # The vocabulary travels with the data, so the trainer can put it next to its checkpoints.
    save_tokenizer_assets(tokenizer, output_dir)
    meta_lib.write_meta(meta, output_dir)
    for line in stats.report_lines("NSP" if settings.random_next_sentence else "SOP"):
        log(line)
    log(f"done in {time.time() - started:.1f}s: {len(results)} shard(s) and {meta_lib.META_NAME} in {output_dir}")
    return meta


def _run_jobs(jobs, num_workers):
    if num_workers == 1:
        for job in jobs:
            yield process_unit(job)
        return
    # fork starts workers ~0.5 s sooner (no re-import, the tokenizer is already loaded), which
    # matters for small corpora; but a parent that has loaded TensorFlow (its thread pools do not
    # survive fork) gets spawned workers, which never inherit that state.
    fork_is_safe = sys.platform == "linux" and "tensorflow" not in sys.modules
    context = multiprocessing.get_context("fork" if fork_is_safe else "spawn")
    # Workers die with this process: a killed run must not leave them writing shards.
    with context.Pool(num_workers, initializer=child_processes.die_with_parent, initargs=(os.getpid(),)) as pool:
        yield from pool.imap_unordered(process_unit, jobs, chunksize=1)
