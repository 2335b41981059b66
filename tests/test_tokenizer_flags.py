"""--do_lower_case / --keep_accents: recorded tokenizer settings win unless a flag is given, then must agree."""


import pytest
from absl import flags

from albert_tf.jobs import runner, settings as job_settings
from albert_tf.tokenization import SentencePieceTokenizer, TokenizerMismatchError, save_tokenizer_assets
from albert_tf.tokenization import settings_flags
from albert_tf.tokenization.assets import tokenizer_for_model

import tokenization_testlib as testlib


@pytest.fixture(scope="module")
def cased_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("cased")
    model = testlib.build_spm_model(base)
    directory = base / "cased_model"
    save_tokenizer_assets(SentencePieceTokenizer(str(model), do_lower_case=False, keep_accents=True), directory)
    return {"dir": str(directory), "model": str(model)}


def _parsed(*argv):
    values = flags.FlagValues()
    settings_flags.define_tokenizer_flags(values)
    values(["prog", *argv])
    return values


def test_only_flags_given_on_the_command_line_count():
    assert settings_flags.explicit_settings(_parsed()) == {"do_lower_case": None, "keep_accents": None}
    assert settings_flags.explicit_settings(_parsed("--nodo_lower_case", "--keep_accents")) == \
        {"do_lower_case": False, "keep_accents": True}
    # Giving the default value explicitly is still an explicit choice.
    assert settings_flags.explicit_settings(_parsed("--do_lower_case"))["do_lower_case"] is True


def test_recorded_cased_tokenizer_loads_without_flags(cased_dir):
    tokenizer = tokenizer_for_model(cased_dir["dir"], None)
    assert tokenizer.do_lower_case is False and tokenizer.keep_accents is True
    # The fine-tuning job gets the same: settings from flags left out are None.
    settings = job_settings.from_flags(job_settings.ClassifierSettings, _parsed(),
                                       {"task_name": "SST-2", "data_dir": "d", "output_dir": "o",
                                        "vocab_file": cased_dir["dir"]})
    assert settings.do_lower_case is None and runner.load_tokenizer(settings).do_lower_case is False


def test_an_explicit_flag_that_contradicts_the_record_names_both_values(cased_dir):
    with pytest.raises(TokenizerMismatchError, match=r"records do_lower_case=False but --do_lower_case=True was "
                                                     r"given; leave the flag out"):
        tokenizer_for_model(cased_dir["dir"], None, do_lower_case=True)
    with pytest.raises(TokenizerMismatchError, match=r"records keep_accents=True but --keep_accents=False"):
        tokenizer_for_model(None, cased_dir["dir"] + "/model.ckpt", keep_accents=False)
    # Agreeing flags are fine.
    assert tokenizer_for_model(cased_dir["dir"], None, do_lower_case=False).do_lower_case is False


def test_keep_accents_keeps_umlauts(cased_dir):
    plain = tokenizer_for_model(cased_dir["model"], None)
    kept = tokenizer_for_model(cased_dir["model"], None, keep_accents=True)
    assert plain.keep_accents is False and kept.keep_accents is True
    assert "ü" not in "".join(plain.tokenize("über")) and "ü" in "".join(kept.tokenize("über"))


def test_pretraining_data_tokenizer_keeps_accents_when_asked(cased_dir):
    from albert_tf.data import generation
    spec = generation.TokenizerSpec(spm_model_file=cased_dir["model"], keep_accents=True)
    assert spec.build().keep_accents is True
    assert generation.TokenizerSpec(spm_model_file=cased_dir["model"]).build().keep_accents is False
