"""What the fine-tuning entry scripts share: stray arguments, required flags, settings from the flags,
and one `<script>: error: ...` line (no traceback) for a refused run."""

import sys

from absl import app, flags, logging

from albert_tf.jobs import settings
from albert_tf.output_errors import OutputError

REFUSALS = (ValueError, FileNotFoundError, PermissionError, ImportError, OutputError)


def settings_from_flags(settings_class, argv, overrides=None, flag_values=flags.FLAGS):
    """The job's settings from the parsed flags (`overrides` win); stray arguments and missing required flags
    are refused first."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    for name in settings.missing_required(settings_class, flag_values):
        raise ValueError(f"--{name} is required")
    return settings.from_flags(settings_class, flag_values, overrides)


def run_main(main, script: str):
    """`app.run(main)`; a refused run is one error line on stderr and exit status 1."""
    try:
        app.run(main)
    except REFUSALS as error:
        logging.error("%s", error)
        print(f"{script}: error: {error}", file=sys.stderr)
        sys.exit(1)
