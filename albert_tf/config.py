"""AlbertConfig: the official `albert_config.json` fields, presets and validation.

The json written by the original TF1 code, by brightmart/albert_zh and by Hugging Face
all load here. Keys this project does not use are kept in `extra` and written back
unchanged, so a config survives a round trip through albert-tf byte-for-byte in meaning.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, Optional

from albert_tf import filesystem

ACTIVATIONS = ("gelu", "gelu_new", "gelu_tanh", "gelu_erf", "gelu_exact", "relu", "tanh", "linear", "swish", "silu")
EMBEDDING_LAYOUTS = ("factorized", "project_first")
LN_TYPES = ("postln", "preln")

# Hugging Face writes these for its own bookkeeping; they say nothing about the math.
_HF_BOOKKEEPING = {
    "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "pad_token_id",
    "bos_token_id", "eos_token_id", "classifier_dropout_prob", "layer_norm_eps", "position_embedding_type",
}


class ConfigError(ValueError):
    """A config that cannot describe a working ALBERT model; the message names the field."""


# Activation names between this project and transformers' ACT2FN, exact both ways. ALBERT's "gelu" is the
# tanh approximation, transformers' "gelu" the exact erf one; its tanh forms ("gelu_new", "gelu_pytorch_tanh",
# "gelu_fast", "gelu_accurate", "gelu_python_tanh") all compute 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))).
HF_ACTIVATION_OF = {"gelu": "gelu_new", "gelu_new": "gelu_new", "gelu_tanh": "gelu_new", "gelu_erf": "gelu",
                    "gelu_exact": "gelu", "relu": "relu", "tanh": "tanh", "linear": "linear", "swish": "silu",
                    "silu": "silu"}
ACTIVATION_OF_HF = {"gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu", "gelu_accurate": "gelu",
                    "gelu_python_tanh": "gelu", "gelu": "gelu_erf", "gelu_python": "gelu_erf", "relu": "relu",
                    "tanh": "tanh", "linear": "linear", "silu": "swish", "swish": "swish"}

# Keys only ALBERT configs have: every released ALBERT json (official, brightmart, transformers) states
# `embedding_size`. A json describing a whole model (the keys BERT and ALBERT share) without any of them is BERT's.
_ALBERT_ONLY_KEYS = ("embedding_size", "num_hidden_groups", "inner_group_num", "ln_type", "embedding_layout")
_MODEL_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size")


def refuse_bert_config(data: Dict[str, Any], source: Optional[str]) -> None:
    """A BERT config read as ALBERT would silently take the default `embedding_size` (128) and build another
    model than its checkpoint: refused, naming the missing field."""
    if all(key in data for key in _MODEL_KEYS) and not any(key in data for key in _ALBERT_ONLY_KEYS):
        bert = "a BERT config" if data.get("model_type", "bert") == "bert" else "not an ALBERT config"
        raise ConfigError(f"{source or 'config'}: config field 'embedding_size' is missing: this looks like {bert}, "
                          "which this project does not load as ALBERT (every ALBERT config states "
                          "'embedding_size'; add it if this really is an ALBERT config)")


@dataclasses.dataclass
class AlbertConfig:
    """Hyperparameters of an ALBERT encoder, one field per key of the official json.

    Args:
        vocab_size: V, rows of the word-embedding table.
        embedding_size: E, width of the factorized embeddings.
        hidden_size: H, width of the transformer.
        num_hidden_layers: L, how many times a transformer layer is applied.
        num_hidden_groups: G, how many distinct weight sets the L layers share
            (layer l uses group `int(l * G / L)`; G may exceed L).
        inner_group_num: K, distinct blocks run in sequence inside each layer.
        num_attention_heads: attention heads; must divide `hidden_size`.
        intermediate_size: I, width of the feed-forward layer.
        hidden_act: activation name; "gelu" is the tanh approximation, as in the
            original code, and "gelu_erf" the exact one.
        hidden_dropout_prob: dropout after embeddings, attention output and FFN.
        attention_probs_dropout_prob: dropout on attention probabilities.
        max_position_embeddings: rows of the position table, the longest sequence.
        type_vocab_size: rows of the token-type (segment) table.
        initializer_range: stddev of the truncated-normal initializer.
        embedding_layout: "factorized" (Google: LN over E then a dense E→H) or
            "project_first" (brightmart/albert_zh: word embeddings projected to H
            before adding H-wide position/type embeddings and LN).
        ln_type: "postln" (original) or "preln" (brightmart option).
        extra: keys of the json this project does not interpret, written back as read.
    """

    vocab_size: int = 30000
    embedding_size: int = 128
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_hidden_groups: int = 1
    inner_group_num: int = 1
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    embedding_layout: str = "factorized"
    ln_type: str = "postln"
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.validate()

    # --- validation -------------------------------------------------------------------

    def validate(self, source: Optional[str] = None) -> "AlbertConfig":
        where = f"{source}: " if source else ""

        def fail(field, message):
            raise ConfigError(f"{where}config field '{field}' {message}")

        for field in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
                      "inner_group_num", "num_attention_heads", "intermediate_size", "max_position_embeddings",
                      "type_vocab_size"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                fail(field, f"must be a positive integer, got {value!r}")
        for field in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, field)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                fail(field, f"must be a probability in [0, 1), got {value!r}")
        if not isinstance(self.initializer_range, (int, float)) or self.initializer_range <= 0:
            fail("initializer_range", f"must be a positive number, got {self.initializer_range!r}")
        if self.hidden_size % self.num_attention_heads:
            fail("hidden_size", f"({self.hidden_size}) must be divisible by num_attention_heads "
                                f"({self.num_attention_heads})")
        if self.hidden_act not in ACTIVATIONS:
            fail("hidden_act", f"is {self.hidden_act!r}; known activations: {', '.join(ACTIVATIONS)}")
        if self.embedding_layout not in EMBEDDING_LAYOUTS:
            fail("embedding_layout", f"is {self.embedding_layout!r}; expected one of {EMBEDDING_LAYOUTS}")
        if self.ln_type not in LN_TYPES:
            fail("ln_type", f"is {self.ln_type!r}; expected one of {LN_TYPES}")
        return self

    # --- derived facts -----------------------------------------------------------------

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def group_of_layer(self, layer_index: int) -> int:
        """The weight group layer `layer_index` (0-based) uses, exactly as the original.

        With G > L only some groups are ever used (G=12, L=4 uses 0, 3, 6, 9); their
        weights still exist in released checkpoints, so they are created all the same.
        """
        return int(layer_index * self.num_hidden_groups / self.num_hidden_layers)

    # --- json --------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Dict[str, Any], source: Optional[str] = None) -> "AlbertConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"{source or 'config'}: expected a json object, got {type(data).__name__}")
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs = {k: data.pop(k) for k in list(data) if k in known}
        extra = dict(data.pop("extra", {}) or {})
        extra.update(data)
        # brightmart/albert_zh jsons are the only ones carrying `ln_type`; they never state the
        # embedding layout, which in that code base is always the project-first one.
        if "ln_type" in kwargs and "embedding_layout" not in kwargs:
            kwargs["embedding_layout"] = "project_first"
        for field, value in kwargs.items():
            default = cls.__dataclass_fields__[field].default
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                kwargs[field] = float(value)
        try:
            return cls(**kwargs, extra=extra)
        except ConfigError as err:
            if source is None:
                raise
            raise ConfigError(f"{source}: {err}") from None

    def to_dict(self) -> Dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        data.update(self.extra)
        return data

    def to_official_dict(self) -> Dict[str, Any]:
        """The json the original TF1 tools expect: a Google-layout post-LN config holds only the official
        keys. `ln_type` is kept only when pre-LN, and then `embedding_layout` too, since a json carrying
        `ln_type` alone reads as brightmart's project-first layout."""
        data = self.to_dict()
        if data["ln_type"] == "postln":
            data.pop("ln_type")
            if data["embedding_layout"] == "factorized":
                data.pop("embedding_layout")
        return data

    @classmethod
    def from_json_file(cls, path: str) -> "AlbertConfig":
        path = os.fspath(path)
        if not filesystem.exists(path):
            raise FileNotFoundError(f"config file not found: {path}")
        raw = filesystem.read_bytes(path)
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not valid UTF-8 at byte {err.start}") from err
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: line {err.lineno} column {err.colno}: invalid json ({err.msg})") from err
        if isinstance(data, dict):
            refuse_bert_config(data, path)
        return cls.from_dict(data, source=path)

    def to_json_string(self) -> str:
        """The official json (`to_official_dict`): every config this project writes reads back as the same
        config, here and in the original TF1 code."""
        return json.dumps(self.to_official_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, path: str) -> None:
        """Writes atomically: a crash never leaves a half-written config behind."""
        path = os.fspath(path)
        filesystem.makedirs(filesystem.dirname(os.path.abspath(path) if filesystem.is_local(path) else path))
        filesystem.write_text(path, self.to_json_string())

    def replace(self, **changes) -> "AlbertConfig":
        return dataclasses.replace(self, **changes).validate()

    # --- Hugging Face ------------------------------------------------------------------

    def to_hf_dict(self) -> Dict[str, Any]:
        """A Hugging Face `AlbertConfig` json describing the same math."""
        if self.embedding_layout != "factorized" or self.ln_type != "postln":
            raise ConfigError(
                f"config field '{'embedding_layout' if self.embedding_layout != 'factorized' else 'ln_type'}': "
                "Hugging Face ALBERT only implements the factorized post-LN layout")
        hf_act = HF_ACTIVATION_OF[self.hidden_act]
        data = {k: v for k, v in self.to_dict().items() if k not in ("embedding_layout", "ln_type")}
        data.update(hidden_act=hf_act, model_type="albert", architectures=["AlbertForPreTraining"],
                    layer_norm_eps=1e-12, classifier_dropout_prob=0.1, position_embedding_type="absolute",
                    pad_token_id=0, bos_token_id=2, eos_token_id=3)
        return data

    @classmethod
    def from_hf_dict(cls, data: Dict[str, Any], source: Optional[str] = None) -> "AlbertConfig":
        data = dict(data)
        if data.get("model_type", "albert") != "albert":
            raise ConfigError(f"{source or 'config'}: config field 'model_type' is {data['model_type']!r}, not "
                              "'albert'; this is not an ALBERT config")
        refuse_bert_config(data, source)
        act = data.get("hidden_act", "gelu_new")
        if act not in ACTIVATION_OF_HF:
            raise ConfigError(f"{source or 'config'}: config field 'hidden_act' is {act!r}, a transformers "
                              f"activation ALBERT has no equivalent of; known: {', '.join(sorted(ACTIVATION_OF_HF))}")
        data["hidden_act"] = ACTIVATION_OF_HF[act]
        eps = data.get("layer_norm_eps", 1e-12)
        if abs(eps - 1e-12) > 1e-15:
            raise ConfigError(f"{source or 'config'}: config field 'layer_norm_eps' is {eps}; "
                              "ALBERT uses 1e-12 everywhere")
        pos = data.get("position_embedding_type", "absolute")
        if pos != "absolute":
            raise ConfigError(f"{source or 'config'}: config field 'position_embedding_type' is {pos!r}; "
                              "only 'absolute' is ALBERT")
        for key in _HF_BOOKKEEPING:
            data.pop(key, None)
        return cls.from_dict(data, source=source)


def _shape(layers, hidden, intermediate, heads, **overrides):
    return dict(num_hidden_layers=layers, hidden_size=hidden, intermediate_size=intermediate,
                num_attention_heads=heads, **overrides)


_EN = dict(vocab_size=30000, embedding_size=128)
_ZH = dict(vocab_size=21128, embedding_size=128)
_V1_DROPOUT = dict(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)

PRESETS: Dict[str, Dict[str, Any]] = {
    # English, google-research/albert releases (v2 has no dropout; v1 0.1 except xxlarge).
    "albert_base_v1": {**_EN, **_shape(12, 768, 3072, 12), **_V1_DROPOUT},
    "albert_large_v1": {**_EN, **_shape(24, 1024, 4096, 16), **_V1_DROPOUT},
    "albert_xlarge_v1": {**_EN, **_shape(24, 2048, 8192, 16), **_V1_DROPOUT},
    "albert_xxlarge_v1": {**_EN, **_shape(12, 4096, 16384, 64)},
    "albert_base_v2": {**_EN, **_shape(12, 768, 3072, 12)},
    "albert_large_v2": {**_EN, **_shape(24, 1024, 4096, 16)},
    "albert_xlarge_v2": {**_EN, **_shape(24, 2048, 8192, 16)},
    "albert_xxlarge_v2": {**_EN, **_shape(12, 4096, 16384, 64)},
    # Google's official Chinese models: same shapes, relu.
    "albert_base_zh": {**_ZH, **_shape(12, 768, 3072, 12), "hidden_act": "relu"},
    "albert_large_zh": {**_ZH, **_shape(24, 1024, 4096, 16), "hidden_act": "relu"},
    "albert_xlarge_zh": {**_ZH, **_shape(24, 2048, 8192, 16), "hidden_act": "relu", "initializer_range": 0.014},
    "albert_xxlarge_zh": {**_ZH, **_shape(12, 4096, 16384, 16), "hidden_act": "relu", "initializer_range": 0.01},
    # albert_zh (brightmart), Google checkpoint layout.
    "albert_tiny_zh_google": {**_ZH, **_shape(4, 312, 1248, 12)},
    "albert_small_zh_google": {**_ZH, **_shape(6, 384, 1536, 12)},
    # albert_zh (brightmart), its own project-first layout.
    "albert_tiny_zh": {**_ZH, **_shape(4, 312, 1248, 12), "embedding_layout": "project_first"},
    "albert_base_zh_brightmart": {**_ZH, **_shape(12, 768, 3072, 12), "embedding_layout": "project_first"},
    "albert_large_zh_brightmart": {**_ZH, **_shape(24, 1024, 4096, 16), "embedding_layout": "project_first"},
    "albert_xlarge_zh_brightmart": {**_ZH, **_shape(24, 2048, 8192, 32), "embedding_layout": "project_first"},
    "albert_xxlarge_zh_brightmart": {**_ZH, **_shape(12, 4096, 16384, 64), "embedding_layout": "project_first",
                                     "ln_type": "preln"},
}


def preset(name: str, **overrides) -> AlbertConfig:
    """The config of a released model, e.g. `preset("albert_base_v2")`."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}")
    return AlbertConfig(**{**PRESETS[name], **overrides})
