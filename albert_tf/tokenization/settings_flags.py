"""The tokenizer flags every script shares: `--do_lower_case` and `--keep_accents`.

A tokenizer directory records its settings (`tokenizer_config.json`); those win. A flag counts only
when the user gave it on the command line (absl's `present`), and a given flag that contradicts the
record is an error naming both values. With a bare vocabulary file and no flag, the constructor
defaults apply (lowercase, accents stripped: every released ALBERT model).
"""

from typing import Dict, Optional

from absl import flags

NAMES = ("do_lower_case", "keep_accents")


def define_tokenizer_flags(flag_values=flags.FLAGS):
    flags.DEFINE_bool("do_lower_case", True, "Lowercase text. Default: the setting recorded with the tokenizer "
                      "(tokenizer_config.json), else true (all released ALBERT models are uncased); given "
                      "explicitly, it must agree with the record.", flag_values=flag_values)
    flags.DEFINE_bool("keep_accents", False, "SentencePiece: keep accents (skip NFKD + accent removal), e.g. for "
                      "a cased German model. Default: the recorded setting, else false; given explicitly, it must "
                      "agree with the record.", flag_values=flag_values)


def explicit_settings(flag_values=flags.FLAGS) -> Dict[str, Optional[bool]]:
    """{name: value if the flag was given on the command line, else None} for the flags defined here."""
    return {name: (flag_values[name].value if flag_values[name].present else None)
            for name in NAMES if name in flag_values}
