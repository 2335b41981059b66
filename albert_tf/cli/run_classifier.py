"""Fine-tune ALBERT on a GLUE / CLUE / LCQMC / RACE task; evaluate, pick the best checkpoint, predict.

`albert-classify` once installed with pip (`python run_classifier.py` in a checkout runs the same code).

Example (SST-2 from a Hugging Face checkpoint directory, evaluation every 200 steps):
  python run_classifier.py --task_name=SST-2 --data_dir=glue/SST-2 --output_dir=runs/sst2 \
      --init_checkpoint=albert-base-v2/ --vocab_file=albert-base-v2/spiece.model \
      --do_train --do_eval --do_predict --max_seq_length=128 --train_batch_size=32 \
      --learning_rate=1e-5 --num_train_epochs=3 --eval_every_steps=200

`--task_name=help` lists the tasks, their label sets, metrics and files.
Outputs in --output_dir: eval_results/step_N.json (every evaluation), eval_results.json (final,
best checkpoint), best_checkpoint.json + best_checkpoint/ (TF1 layout, reusable as
--init_checkpoint), predictions/<TASK>.tsv (GLUE) or <task>_predict.json (CLUE), logs/ (TensorBoard).
"""

from albert_tf import tf_logs  # noqa: E402  (first: TensorFlow's start-up lines are captured at its import)

tf_logs.quiet_tensorflow()

from absl import flags, logging  # noqa: E402

from albert_tf.cli.console import finetuning_command  # noqa: E402
from albert_tf.finetuning import presets  # noqa: E402
from albert_tf.finetuning.tasks import describe_tasks, get_task, load_task_modules  # noqa: E402
from albert_tf.jobs import classifier, settings  # noqa: E402

def preset_overrides(flag_values):
    """Values of --hparams_preset for the flags the user did not give."""
    if not flag_values.hparams_preset:
        return {}
    values = presets.hparams(flag_values.hparams_preset, get_task(flag_values.task_name).name)
    chosen = {name: value for name, value in values.items() if not flag_values[name].present}
    logging.info("--hparams_preset=%s: %s", flag_values.hparams_preset, chosen)
    return chosen


def list_tasks_on_request(flag_values) -> bool:
    """Loads --task_module; `--task_name=help` (or none) lists the tasks and ends the command."""
    load_task_modules(flag_values.task_module)
    if flag_values.task_name is None or flag_values.task_name.lower() == "help":
        print("tasks (--task_name):\n" + describe_tasks())
        return False
    return True


main, run = finetuning_command(settings.ClassifierSettings, classifier.run, __name__, overrides=preset_overrides,
                               before=list_tasks_on_request)
flags.DEFINE_enum("hparams_preset", None, ["reference", "lcqmc_tiny"], "Reference hyperparameters (run_glue.sh "
                  "per GLUE task; albert_zh tiny for LCQMC) for every flag not given explicitly.")

if __name__ == "__main__":
    run()
