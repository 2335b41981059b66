"""Every layer and model class of `albert_tf.modeling` through the checks of `model_harness`.

`test_every_class_has_a_case` keeps the list whole: a class added to `albert_tf.modeling` without
a case here fails it.
"""

import importlib
import inspect
import pkgutil

import keras
import numpy as np
import pytest

import albert_tf.modeling as modeling_package
from albert_tf.modeling import (AlbertClassificationHead, AlbertClassifier, AlbertEmbedding, AlbertEncoder,
                                AlbertMaskedLMHead, AlbertPretrainer, AlbertSelfAttention, AlbertTokenClassifier,
                                AlbertTransformerBlock, MultipleChoiceScorer, SquadModel)
from albert_tf.modeling.squad import SquadAnswerabilityHead, SquadSpanHead
from albert_tf.modeling.transformer import attention_bias_from_mask
from model_harness import (TINY, Case, check_bfloat16, check_config_round_trip, check_saved_round_trip,
                           check_variable_length, check_xla, hidden_states, token_inputs)

PREDICTIONS = 3
CHOICES = 2
CHOICE_LENGTH = 8


def _embedding():
    return AlbertEmbedding(TINY.vocab_size, TINY.embedding_size, TINY.hidden_size, TINY.max_position_embeddings,
                           name="embeddings")


def _mlm_head():
    embedding = _embedding()
    embedding.build()
    return AlbertMaskedLMHead(embedding, name="predictions")


def _hidden_and_bias(layer, length):
    return hidden_states(length), attention_bias_from_mask(token_inputs(length)["input_mask"])


def _positions(length):
    rng = np.random.default_rng(length)
    return np.stack([rng.choice(length - 2, PREDICTIONS, replace=False) for _ in range(2)]).astype(np.int32)


def _p_mask(length):
    p_mask = 1 - token_inputs(length)["input_mask"]
    p_mask[:, 0] = 0  # [CLS] may hold the null answer
    return p_mask


def _squad_inputs(layer, length):
    return ({**token_inputs(length), "p_mask": _p_mask(length)},)


def _choice_inputs(layer, length):
    per_choice = token_inputs(CHOICE_LENGTH, batch=2 * CHOICES)
    return ({name: value.reshape(2, CHOICES * CHOICE_LENGTH) for name, value in per_choice.items()},)


CASES = [
    Case("embedding", _embedding, lambda layer, n: (token_inputs(n)["input_word_ids"],
                                                    token_inputs(n)["input_type_ids"])),
    Case("self_attention", lambda: AlbertSelfAttention(TINY.hidden_size, TINY.num_attention_heads),
         _hidden_and_bias),
    Case("transformer_block", lambda: AlbertTransformerBlock(TINY.hidden_size, TINY.num_attention_heads,
                                                             TINY.intermediate_size), _hidden_and_bias),
    Case("transformer_block_preln", lambda: AlbertTransformerBlock(TINY.hidden_size, TINY.num_attention_heads,
                                                                   TINY.intermediate_size, ln_type="preln"),
         _hidden_and_bias),
    Case("masked_lm_head", _mlm_head, lambda layer, n: (hidden_states(n), _positions(n)), float32_outputs=("",),
         from_config_extras=lambda layer: {"embedding": layer.embedding}),
    Case("classification_head", lambda: AlbertClassificationHead(3),
         lambda layer, n: (hidden_states(n)[:, 0],), float32_outputs=("",)),
    Case("squad_span_head", lambda: SquadSpanHead(), lambda layer, n: (hidden_states(n), _p_mask(n)),
         float32_outputs=("start_logits", "end_logits")),
    Case("squad_answerability_head", lambda: SquadAnswerabilityHead(TINY.hidden_size, start_n_top=2, end_n_top=2),
         lambda layer, n: (hidden_states(n), _p_mask(n)),
         float32_outputs=("start_top_log_probs", "end_top_log_probs", "cls_logits")),
    Case("encoder", lambda: AlbertEncoder(TINY), lambda layer, n: (token_inputs(n),)),
    Case("encoder_project_first", lambda: AlbertEncoder(TINY.replace(embedding_layout="project_first")),
         lambda layer, n: (token_inputs(n),)),
    Case("pretrainer", lambda: AlbertPretrainer(AlbertEncoder(TINY)),
         lambda layer, n: ({**token_inputs(n), "masked_lm_positions": _positions(n)},),
         float32_outputs=("mlm_logits", "sop_logits")),
    Case("classifier", lambda: AlbertClassifier(AlbertEncoder(TINY), 3), lambda layer, n: (token_inputs(n),),
         float32_outputs=("",)),
    Case("token_classifier", lambda: AlbertTokenClassifier(AlbertEncoder(TINY), 5),
         lambda layer, n: (token_inputs(n),), float32_outputs=("",)),
    Case("multiple_choice", lambda: MultipleChoiceScorer(
        AlbertClassifier(AlbertEncoder(TINY, sequence_length=CHOICE_LENGTH), 1), CHOICES, CHOICE_LENGTH),
        _choice_inputs, float32_outputs=("",), fixed_length=CHOICES * CHOICE_LENGTH),
    Case("squad_span", lambda: SquadModel(AlbertEncoder(TINY), "span"), _squad_inputs,
         float32_outputs=("start_logits", "end_logits")),
    Case("squad_cls_null", lambda: SquadModel(AlbertEncoder(TINY), "cls_null"), _squad_inputs,
         float32_outputs=("start_logits", "end_logits")),
    Case("squad_xlnet", lambda: SquadModel(AlbertEncoder(TINY), "xlnet", start_n_top=2, end_n_top=2),
         _squad_inputs, float32_outputs=("start_top_log_probs", "end_top_log_probs", "cls_logits")),
]
IDS = [case.name for case in CASES]


@pytest.fixture(scope="module")
def built():
    """One fp32 object per case, shared by the checks that do not change it."""
    keras.utils.set_random_seed(0)
    return {case.name: case.build() for case in CASES}


def test_every_class_has_a_case(built):
    classes = set()
    for info in pkgutil.iter_modules(modeling_package.__path__):
        module = importlib.import_module(f"{modeling_package.__name__}.{info.name}")
        classes |= {obj for obj in vars(module).values() if inspect.isclass(obj)
                    and issubclass(obj, keras.layers.Layer) and obj.__module__ == module.__name__}
    covered = {type(layer) for layer in built.values()}
    assert sorted(c.__name__ for c in classes - covered) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_round_trip(case, built):
    check_config_round_trip(case, built[case.name])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_saved_round_trip_gives_identical_outputs(case, built, tmp_path):
    check_saved_round_trip(case, built[case.name], tmp_path)


@pytest.mark.parametrize("case", [c for c in CASES if not c.fixed_length], ids=[c.name for c in CASES
                                                                                 if not c.fixed_length])
def test_two_sequence_lengths_with_the_same_weights(case, built):
    short, long = check_variable_length(case, built[case.name])
    changed = [key for key in short if short[key] != long[key]]
    # Outputs with a sequence axis follow the length; pooled and per-example ones do not.
    assert all(len(short[key]) >= 2 for key in changed)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bfloat16_policy_builds_and_runs(case):
    check_bfloat16(case)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_xla_call_equals_eager(case, built):
    check_xla(case, built[case.name])


def test_the_checks_can_fail():
    """A config that loses a field and a float32 promise that is not kept are both caught."""
    class Forgetful(AlbertClassificationHead):
        def get_config(self):
            config = super().get_config()
            config["num_classes"] += 1
            return config

    case = Case("forgetful", lambda: Forgetful(2), lambda layer, n: (np.zeros((2, 4), np.float32),),
                float32_outputs=("",))
    with pytest.raises(AssertionError, match="config changed"):
        check_config_round_trip(case, case.build())
    half = Case("half", lambda: keras.layers.Dense(2), lambda layer, n: (np.zeros((2, 4), np.float32),),
                float32_outputs=("",))
    with pytest.raises(AssertionError, match="under mixed_bfloat16"):
        check_bfloat16(half)
