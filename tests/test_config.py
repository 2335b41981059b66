import json

import pytest

from albert_tf.config import PRESETS, AlbertConfig, ConfigError, preset
from conftest import REALDATA

ALBERT_ZH = REALDATA / "assets" / "albert_zh"


def test_json_round_trip_keeps_unknown_keys(tmp_path):
    raw = {"vocab_size": 21128, "embedding_size": 128, "hidden_size": 312, "num_hidden_layers": 4,
           "num_attention_heads": 12, "intermediate_size": 1248, "hidden_act": "gelu",
           "down_scale_factor": 1, "net_structure_type": 0, "gap_size": 0, "num_memory_blocks": 0,
           "layers_to_keep": [], "pooler_type": "first_token_transform"}
    (tmp_path / "in.json").write_text(json.dumps(raw))
    config = AlbertConfig.from_json_file(str(tmp_path / "in.json"))
    assert config.extra["pooler_type"] == "first_token_transform" and config.extra["layers_to_keep"] == []
    config.to_json_file(str(tmp_path / "out.json"))
    again = json.loads((tmp_path / "out.json").read_text())
    for key, value in raw.items():
        assert again[key] == value
    assert AlbertConfig.from_json_file(str(tmp_path / "out.json")) == config


@pytest.mark.parametrize("changes, field", [
    (dict(hidden_size=100, num_attention_heads=12), "hidden_size"),
    (dict(hidden_act="gelu_fast"), "hidden_act"),
    (dict(num_hidden_groups=0), "num_hidden_groups"),
    (dict(hidden_dropout_prob=1.5), "hidden_dropout_prob"),
    (dict(embedding_layout="weird"), "embedding_layout"),
    (dict(ln_type="sandwich"), "ln_type"),
    (dict(vocab_size="30000"), "vocab_size"),
])
def test_invalid_fields_are_named(changes, field):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        AlbertConfig(**changes)


def test_bad_json_names_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "vocab_size": 30000,\n  "hidden_size": \n}')
    with pytest.raises(ConfigError, match=r"broken.json: line 4"):
        AlbertConfig.from_json_file(str(path))
    with pytest.raises(FileNotFoundError, match="missing.json"):
        AlbertConfig.from_json_file(str(tmp_path / "missing.json"))


def test_group_rule_matches_the_original():
    config = AlbertConfig(num_hidden_layers=12, num_hidden_groups=3)
    assert [config.group_of_layer(l) for l in range(12)] == [0] * 4 + [1] * 4 + [2] * 4
    fast = AlbertConfig(num_hidden_layers=4, num_hidden_groups=12)
    assert [fast.group_of_layer(l) for l in range(4)] == [0, 3, 6, 9]


def test_hf_config_round_trip():
    config = preset("albert_base_zh")
    hf = config.to_hf_dict()
    assert hf["hidden_act"] == "relu" and hf["layer_norm_eps"] == 1e-12
    assert AlbertConfig.from_hf_dict(hf) == config
    assert preset("albert_base_v2").to_hf_dict()["hidden_act"] == "gelu_new"
    with pytest.raises(ConfigError, match="embedding_layout"):
        preset("albert_tiny_zh").to_hf_dict()


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ConfigError, match="albert_base_v2"):
        preset("albert_base_v3")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid(name):
    assert preset(name).validate()


@pytest.mark.skipif(not ALBERT_ZH.exists(), reason=f"real albert_zh configs not found at {ALBERT_ZH}")
def test_released_albert_zh_configs_load():
    for path in sorted(ALBERT_ZH.glob("albert_config_*.json")):
        config = AlbertConfig.from_json_file(str(path))
        expected = "project_first" if "google" not in path.name else "factorized"
        assert config.embedding_layout == expected, path.name
    assert AlbertConfig.from_json_file(str(ALBERT_ZH / "albert_config_xxlarge.json")).ln_type == "preln"


def test_invalid_field_in_file_names_file_and_field(tmp_path):
    path = tmp_path / "albert_config.json"
    path.write_text(json.dumps({"hidden_size": 100, "num_attention_heads": 12}))
    with pytest.raises(ConfigError, match=r"albert_config.json: config field 'hidden_size'"):
        AlbertConfig.from_json_file(str(path))
