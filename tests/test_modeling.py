"""Model behaviour: shapes, sharing, serialization, mixed precision, XLA, distribution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf.config import AlbertConfig, preset
from albert_tf.modeling import AlbertClassifier, AlbertEncoder, AlbertPretrainer
from conftest import padded_batch

ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def _encoder_batch(**kwargs):
    return {k: v for k, v in padded_batch(**kwargs).items() if k in ENCODER_INPUTS}


@pytest.mark.parametrize("name, millions", [("albert_base_v2", 11.68), ("albert_large_v2", 17.68),
                                            ("albert_xlarge_v2", 58.72), ("albert_xxlarge_v2", 222.6)])
def test_parameter_counts_match_the_paper(name, millions):
    assert round(AlbertEncoder(preset(name)).count_params() / 1e6, 2 if millions < 100 else 1) == millions


def test_one_weight_set_per_group_applied_repeatedly():
    config = AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=6, num_hidden_groups=2,
                          inner_group_num=3, num_attention_heads=2, intermediate_size=16)
    encoder = AlbertEncoder(config)
    blocks = [block for group in encoder.groups for block in group]
    assert len(blocks) == 6
    per_block = len(blocks[0].weights)
    embed_and_pool = len(encoder.embeddings.weights) + len(encoder.pooler.weights)
    assert len(encoder.weights) == embed_and_pool + 6 * per_block
    out = encoder(_encoder_batch(vocab_size=50))
    assert len(out["encoder_outputs"]) == 6


def test_keras_file_round_trip_gives_identical_outputs(tmp_path, tiny_config):
    model = AlbertPretrainer(AlbertEncoder(tiny_config.replace(hidden_act="relu", ln_type="preln")))
    batch = padded_batch()
    before = model(batch)
    model.save(str(tmp_path / "pretrainer.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "pretrainer.keras"))
    after = loaded(batch)
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    # the MLM head is still tied to the loaded word table
    assert loaded.mlm_head.embedding is loaded.encoder.embeddings
    assert loaded.encoder.albert_config == model.encoder.albert_config


def test_sequence_longer_than_positions_is_a_clear_error(tiny_config):
    encoder = AlbertEncoder(tiny_config)
    ids = np.ones((1, tiny_config.max_position_embeddings + 1), np.int32)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="max_position_embeddings"):
        encoder({"input_word_ids": ids, "input_mask": ids, "input_type_ids": 0 * ids})
    # a static length that is too long fails when the model is built
    with pytest.raises(ValueError, match="max_position_embeddings"):
        AlbertEncoder(tiny_config, sequence_length=tiny_config.max_position_embeddings + 1)


def test_mlm_logits_only_at_masked_positions(tiny_config):
    model = AlbertPretrainer(AlbertEncoder(tiny_config))
    batch = padded_batch(predictions=2)
    out = model(batch)
    assert out["mlm_logits"].shape == (3, 2, tiny_config.vocab_size)
    assert out["sop_logits"].shape == (3, 2)


def test_masked_positions_gathered_as_whole_rows_match_take_along_axis():
    from albert_tf.modeling.heads import gather_positions
    rng = np.random.default_rng(0)
    sequence = tf.constant(rng.normal(size=(3, 7, 5)).astype("float32"))
    positions = tf.constant([[1, 6, 0], [0, 0, 0], [2, 2, 5]], tf.int32)  # padding repeats position 0
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(sequence)
        rows = gather_positions(sequence, positions)
        reference = tf.experimental.numpy.take_along_axis(sequence, positions[:, :, None], axis=1)
        weights = tf.constant(rng.normal(size=(3, 3, 5)).astype("float32"))
        loss, reference_loss = tf.reduce_sum(rows * weights), tf.reduce_sum(reference * weights)
    np.testing.assert_array_equal(rows, reference)
    # Repeated positions accumulate their gradients, as the elementwise gather's scatter does.
    np.testing.assert_allclose(tape.gradient(loss, sequence), tape.gradient(reference_loss, sequence), rtol=1e-6)


def test_attention_with_one_qkv_matmul_equals_three_dense_layers():
    from albert_tf.modeling.transformer import AlbertSelfAttention, attention_bias_from_mask
    keras.utils.set_random_seed(3)
    attention = AlbertSelfAttention(hidden_size=16, num_attention_heads=4)
    x = tf.random.normal((2, 5, 16))
    bias = attention_bias_from_mask(tf.constant([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]))
    attention.build(x.shape)
    for layer in (attention.query, attention.key, attention.value):  # distinct biases: a swap would show
        layer.bias.assign(tf.random.normal(layer.bias.shape))
    out = attention(x, bias)

    def heads(t):
        return tf.transpose(tf.reshape(t, (2, 5, 4, 4)), (0, 2, 1, 3))

    q, k, v = (heads(layer(x)) for layer in (attention.query, attention.key, attention.value))
    probs = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / 2.0 + bias, axis=-1)
    expected = attention.output_dense(tf.reshape(tf.transpose(tf.matmul(probs, v), (0, 2, 1, 3)), (2, 5, 16)))
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_mixed_precision_stays_close_to_float32(tiny_config):
    reference = AlbertPretrainer(AlbertEncoder(tiny_config))
    batch = padded_batch()
    expected = reference(batch)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = AlbertPretrainer(AlbertEncoder(tiny_config))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.set_weights(reference.get_weights())
    assert model.encoder.weights[0].dtype == "float32"  # variables stay fp32
    out = model(batch)
    assert out["mlm_logits"].dtype == "float32" and out["sop_logits"].dtype == "float32"
    # bf16 matmuls, fp32 LayerNorm/softmax: within bf16 rounding of the fp32 model
    np.testing.assert_allclose(out["mlm_logits"], expected["mlm_logits"], atol=0.1, rtol=0.05)


def test_dropout_only_in_training(tiny_config):
    encoder = AlbertEncoder(tiny_config.replace(hidden_dropout_prob=0.3))
    batch = _encoder_batch()
    np.testing.assert_array_equal(encoder(batch)["sequence_output"], encoder(batch)["sequence_output"])
    assert not np.allclose(encoder(batch, training=True)["sequence_output"], encoder(batch)["sequence_output"])


def test_trains_under_mirrored_strategy(tiny_config):
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) < 2:
        pytest.skip("needs two logical CPUs (configured in conftest before TF initializes)")
    strategy = tf.distribute.MirroredStrategy([d.name for d in cpus[:2]],
                                              cross_device_ops=tf.distribute.ReductionToOneDevice())
    assert strategy.num_replicas_in_sync == 2
    keras.utils.set_random_seed(5)  # the same initialization whatever ran before in this process
    with strategy.scope():
        model = AlbertClassifier(AlbertEncoder(tiny_config), num_classes=2, dropout_rate=0.0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batch = _encoder_batch(batch=8, seq=8, seed=3)
    labels = (batch["input_word_ids"][:, 1] % 2).astype(np.int32)
    history = model.fit(batch, labels, batch_size=8, epochs=40, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
