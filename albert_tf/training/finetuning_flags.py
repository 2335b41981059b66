"""Runtime flags the fine-tuning scripts (`run_classifier.py`, `run_squad.py`) share.

Names and meanings match `run_pretraining.py`'s, so one command line style works for every job.
"""

from absl import flags


def define_runtime_flags(flag_values=flags.FLAGS):
    flags.DEFINE_enum("strategy", "one_device", ["tpu", "mirrored", "multi_worker_mirrored", "one_device", "cpu"],
                      "Distribution strategy.", flag_values=flag_values)
    flags.DEFINE_string("tpu", "", "TPU name or grpc:// address; empty or 'local' on a TPU VM.",
                        flag_values=flag_values)
    flags.DEFINE_enum("mixed_precision", "off", ["bf16", "fp16", "off"], "Compute dtype; logits and losses stay "
                      "float32.", flag_values=flag_values)
    flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.", flag_values=flag_values)
    flags.DEFINE_integer("steps_per_execution", 1, "Steps per compiled call.", flag_values=flag_values)
    flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into this many logical devices.", flag_values=flag_values)
    flags.DEFINE_bool("deterministic_ops", False, "Ask TensorFlow for deterministic kernels.",
                      flag_values=flag_values)
    flags.DEFINE_bool("static_shapes", False, "Pad every batch to --max_seq_length (always on with --strategy=tpu).",
                      flag_values=flag_values)
