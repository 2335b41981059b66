"""albert-create-pretraining-data: text corpus -> sharded TFRecords for ALBERT pretraining (MLM + SOP).

Input: one sentence per line, a blank line between documents. Output: `--output_dir` holds
`pretrain-NNNNN-of-NNNNN.tfrecord` shards and `dataset_meta.json` (settings, tokenizer hash,
counts, statistics), which `run_pretraining.py` checks against the model before training.
Same inputs + seed -> byte-identical shards, whatever `--num_workers`.

Examples:
  albert-create-pretraining-data --input_file='corpus/*.txt' --output_dir=data/en128 \
      --spm_model_file=30k-clean.model --max_seq_length=128 --max_predictions_per_seq=20 \
      --dupe_factor=5 --num_workers=8
  albert-create-pretraining-data --input_file=zh.txt --output_dir=data/zh \
      --vocab_file=vocab.txt --zh_whole_word_mask --max_seq_length=512
  # unmasked records; the reader masks anew every epoch (no dupe_factor copies needed)
  albert-create-pretraining-data ... --dynamic_masking --dupe_factor=1
"""

import sys

from absl import app, flags

from albert_tf import output_errors, output_lock
from albert_tf.cli import console
from albert_tf.tokenization import settings_flags

FLAGS = flags.FLAGS

flags.DEFINE_string("input_file", None, "Input text: comma-separated globs.")
flags.DEFINE_string("output_dir", None, "Directory for the TFRecord shards and dataset_meta.json.")
flags.DEFINE_string("output_file", None, "Not supported: output is sharded; use --output_dir.")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model (English ALBERT: 30k-clean.model).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt (Chinese ALBERT).")
settings_flags.define_tokenizer_flags()
flags.DEFINE_integer("max_seq_length", 512, "Tokens per example, [CLS] and [SEP]s included.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions stored per example.")
flags.DEFINE_float("masked_lm_prob", 0.15, "Fraction of tokens to mask.")
flags.DEFINE_integer("dupe_factor", 40, "Passes over the corpus, each with different pairs and masks.")
flags.DEFINE_float("short_seq_prob", 0.1, "Probability of a shorter target length.")
flags.DEFINE_integer("ngram", 3, "Longest n-gram (in words) masked as one span.")
flags.DEFINE_bool("favor_shorter_ngram", True, "p(n) ∝ 1/n; off: longer spans favoured.")
flags.DEFINE_bool("do_whole_word_mask", True, "Mask whole words rather than single pieces.")
flags.DEFINE_bool("random_next_sentence", False, "NSP negatives (random document) instead of SOP (swapped order).")
flags.DEFINE_bool("zh_whole_word_mask", False, "Chinese whole-word masking with jieba word segmentation.")
flags.DEFINE_bool("dynamic_masking", False, "Write unmasked records; the reader masks on the fly.")
flags.DEFINE_integer("random_seed", 12345, "Seed of every random draw.")
flags.DEFINE_integer("num_workers", 1, "Worker processes (output does not depend on this).")
flags.DEFINE_integer("unit_mb", 1, "Text per work unit and shard, in MB; bounds each worker's memory. "
                     "Small units also balance the load across workers.")
flags.DEFINE_integer("max_line_chars", 1_000_000, "Longer lines are skipped and counted.")
flags.DEFINE_enum("invalid_utf8", "error", ["error", "skip"], "On invalid UTF-8: stop (naming file:line) "
                  "before any work, or skip and count the line.")
flags.DEFINE_bool("overwrite", False, "Replace a dataset already in --output_dir.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from albert_tf.data import generation  # pylint: disable=import-outside-toplevel

    if FLAGS.output_file:
        raise app.UsageError("--output_file is not supported: the output is a directory of shards plus "
                             "dataset_meta.json; use --output_dir")
    if not FLAGS.input_file or not FLAGS.output_dir:
        raise app.UsageError("--input_file and --output_dir are required")
    if FLAGS.unit_mb < 1:
        raise ValueError(f"--unit_mb={FLAGS.unit_mb}: must be >= 1")
    settings = generation.GenerationSettings(
        max_seq_length=FLAGS.max_seq_length, max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        masked_lm_prob=FLAGS.masked_lm_prob, dupe_factor=FLAGS.dupe_factor, short_seq_prob=FLAGS.short_seq_prob,
        ngram=FLAGS.ngram, favor_shorter_ngram=FLAGS.favor_shorter_ngram,
        do_whole_word_mask=FLAGS.do_whole_word_mask, random_next_sentence=FLAGS.random_next_sentence,
        zh_whole_word_mask=FLAGS.zh_whole_word_mask, dynamic_masking=FLAGS.dynamic_masking,
        random_seed=FLAGS.random_seed, unit_bytes=FLAGS.unit_mb << 20, max_line_chars=FLAGS.max_line_chars,
        invalid_utf8=FLAGS.invalid_utf8)
    spec = generation.TokenizerSpec(FLAGS.spm_model_file, FLAGS.vocab_file, FLAGS.do_lower_case, FLAGS.keep_accents)
    # Writers name their file; a write error that names none is put on the output directory.
    # One data tool per directory: a second one would remove the first one's shards as "unfinished".
    with output_lock.OutputDirLock(FLAGS.output_dir), output_errors.writing(FLAGS.output_dir):
        generation.generate(FLAGS.input_file, FLAGS.output_dir, settings, spec, num_workers=FLAGS.num_workers,
                            overwrite=FLAGS.overwrite, log=lambda message: print(message, flush=True))


def run():
    console.show_as_main(__name__)
    try:
        app.run(main)
    except (ValueError, ImportError, OSError) as error:  # one clear line instead of a traceback
        print(f"albert-create-pretraining-data: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run()
