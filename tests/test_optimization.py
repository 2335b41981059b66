"""Optimizers and schedule: parity with the original update rules, exclusions, clipping,
serialization, and training under XLA, MirroredStrategy and mixed precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf.modeling import AlbertEncoder, AlbertPretrainer
from albert_tf.optimization import AdamWeightDecay, Lamb, WarmupPolynomialDecay, create_optimizer
from optimizer_reference import ReferenceOptimizer, clip_by_global_norm, warmup_polynomial_lr


def _variable(path, value):
    """A Keras variable whose `path` is `path` ("a/b/name")."""
    *scopes, name = path.split("/")
    if not scopes:
        return keras.Variable(value, name=name)
    with keras.name_scope(scopes[0]):
        return _variable("/".join(scopes[1:] + [name]), value)


# --- schedule -------------------------------------------------------------------------


@pytest.mark.parametrize("power, end", [(1.0, 0.0), (2.0, 1e-5)])
def test_schedule_warms_up_then_decays_on_the_global_step(power, end):
    init, total, warmup = 1e-3, 1000, 100
    schedule = WarmupPolynomialDecay(init, num_train_steps=total, num_warmup_steps=warmup, end_learning_rate=end,
                                     power=power)
    steps = [0, warmup // 2, warmup - 1, warmup, 550, total, total + 300]
    expected = [warmup_polynomial_lr(s, init, total, warmup, end, power) for s in steps]
    compiled = tf.function(schedule, jit_compile=True)
    for step, want in zip(steps, expected):
        for dtype in (tf.int32, tf.int64):
            np.testing.assert_allclose(float(schedule(tf.constant(step, dtype))), want, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(float(compiled(tf.constant(step, tf.int64))), want, rtol=1e-6, atol=1e-12)
    # The original decays on the global step: warmup ends below the peak, not at it.
    assert float(schedule(warmup)) < 0.95 * init
    assert float(schedule(warmup)) == pytest.approx((init - end) * (1 - warmup / total) ** power + end, rel=1e-6)


def test_schedule_without_warmup_starts_at_the_peak_and_round_trips():
    schedule = WarmupPolynomialDecay(2e-4, num_train_steps=10, name="lr")
    assert float(schedule(0)) == pytest.approx(2e-4)
    assert float(schedule(5)) == pytest.approx(1e-4)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, WarmupPolynomialDecay) and restored.get_config() == schedule.get_config()


# --- update rules against the NumPy reference -----------------------------------------------


def _parity_case(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "encoder/LayerNorm/gamma": 1.0 + 0.1 * rng.standard_normal(6),
        "encoder/dense/bias": 0.1 * rng.standard_normal(6),
        "encoder/dense/kernel": 0.5 * rng.standard_normal((4, 6)),
        "encoder/zero_init/kernel": np.zeros(5),          # ||w|| = 0 at the first step
        "frozen/table": rng.standard_normal((3, 2)),       # never gets a gradient: ||update|| = 0
        "embeddings/word_embeddings": 0.2 * rng.standard_normal((8, 3)),  # sparse gradients
    }


@pytest.mark.parametrize("optimizer_class", [Lamb, AdamWeightDecay])
def test_twenty_steps_match_the_original_update_rules(optimizer_class):
    initial = _parity_case()
    # "frozen" is excluded from decay only, so with Lamb it keeps the trust ratio and its
    # zero update exercises the ||update|| = 0 branch.
    no_decay = ["LayerNorm", "layer_norm", "bias", "frozen"]
    no_adaptation = ["LayerNorm", "layer_norm", "bias"]
    kwargs = dict(weight_decay_rate=0.01, exclude_from_weight_decay=no_decay)
    if optimizer_class is Lamb:
        kwargs["exclude_from_layer_adaptation"] = no_adaptation
    optimizer = optimizer_class(learning_rate=0.01, global_clipnorm=None, **kwargs)
    reference = ReferenceOptimizer(lamb=optimizer_class is Lamb, exclude_from_weight_decay=no_decay,
                                   exclude_from_layer_adaptation=no_adaptation)
    variables = {name: _variable(name, value.astype(np.float32)) for name, value in initial.items()}
    expected = {name: value.astype(np.float32).astype(np.float64) for name, value in initial.items()}

    rng = np.random.default_rng(1)
    for step in range(20):
        scale = 10.0 ** rng.uniform(-3, 1)
        dense = {name: (scale * rng.standard_normal(value.shape)).astype(np.float32)
                 for name, value in initial.items()}
        dense["frozen/table"][:] = 0.0
        rows = np.array([1, 4, 1, 7], np.int32)  # a repeated row: slices are summed
        slices = (scale * rng.standard_normal((4, 3))).astype(np.float32)
        dense["embeddings/word_embeddings"] = np.zeros((8, 3), np.float32)
        np.add.at(dense["embeddings/word_embeddings"], rows, slices)
        grads = [tf.IndexedSlices(tf.constant(slices), tf.constant(rows), tf.constant([8, 3]))
                 if name == "embeddings/word_embeddings" else tf.constant(dense[name]) for name in variables]
        optimizer.apply_gradients(zip(grads, variables.values()))
        reference.step(expected, {k: g.astype(np.float64) for k, g in dense.items()}, lr=0.01)
        for name, variable in variables.items():
            np.testing.assert_allclose(variable.numpy(), expected[name], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} after step {step}")

    moved = {name: np.abs(variables[name].numpy() - initial[name].astype(np.float32)).max() for name in initial}
    assert moved["frozen/table"] == 0.0 and np.isfinite(variables["frozen/table"].numpy()).all()
    assert all(moved[name] > 1e-3 for name in initial if name != "frozen/table"), moved


def test_lamb_differs_from_adam_weight_decay_by_the_trust_ratio():
    # Guards the parity test against both optimizers silently sharing one code path.
    kernel = np.full((2, 2), 3.0, np.float32)
    results = []
    for optimizer in (Lamb(0.1, global_clipnorm=None), AdamWeightDecay(0.1, global_clipnorm=None)):
        variable = _variable("dense/kernel", kernel)
        optimizer.apply_gradients([(tf.ones((2, 2)), variable)])
        results.append(variable.numpy())
    update = 0.1 / (np.sqrt(0.001) + 1e-6) + 0.01 * 3.0
    np.testing.assert_allclose(results[1], 3.0 - 0.1 * update, rtol=1e-6)
    np.testing.assert_allclose(results[0], 3.0 - 0.1 * 3.0, rtol=1e-6)  # ratio = ||w|| / ||update||


# --- clipping ---------------------------------------------------------------------------------


def test_global_norm_clipping_matches_tf_clip_by_global_norm():
    rng = np.random.default_rng(2)
    shapes = {"dense/kernel": (3, 4), "dense/bias": (4,), "embeddings/word_embeddings": (6, 2)}
    initial = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
    steps = []
    for scale in (10.0, 0.2, 3.0):  # above, below and above the threshold
        dense = [(scale * rng.standard_normal(shapes[n])).astype(np.float32) for n in list(shapes)[:2]]
        rows = np.array([0, 5, 0], np.int32)
        steps.append((dense, rows, (scale * rng.standard_normal((3, 2))).astype(np.float32)))

    def run(global_clipnorm, clip_before):
        variables = [_variable(name, value) for name, value in initial.items()]
        optimizer = AdamWeightDecay(0.05, global_clipnorm=global_clipnorm)
        for dense, rows, slices in steps:
            grads = [tf.constant(g) for g in dense]
            grads.append(tf.IndexedSlices(tf.constant(slices), tf.constant(rows), tf.constant([6, 2])))
            if clip_before:
                grads, _ = tf.clip_by_global_norm(grads, 1.0)
            optimizer.apply_gradients(zip(grads, variables))
        return [v.numpy() for v in variables]

    clipped_inside = run(global_clipnorm=1.0, clip_before=False)
    clipped_by_tf = run(global_clipnorm=None, clip_before=True)
    unclipped = run(global_clipnorm=None, clip_before=False)
    for inside, by_tf, raw in zip(clipped_inside, clipped_by_tf, unclipped):
        np.testing.assert_allclose(inside, by_tf, rtol=1e-6, atol=1e-7)
        assert np.abs(inside - raw).max() > 1e-3  # clipping changed the trajectory

    grads = [rng.standard_normal((3,)).astype(np.float32) * 5 for _ in range(2)]
    ours = clip_by_global_norm(grads, 1.0)
    theirs, _ = tf.clip_by_global_norm([tf.constant(g) for g in grads], 1.0)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6)


# --- exclusions on the real model -----------------------------------------------------------


def test_exclusions_on_the_pretrainer_are_layer_norms_and_biases(tiny_config):
    model = AlbertPretrainer(AlbertEncoder(tiny_config))
    # Expected sets from layer types, not names: LayerNorm gamma/beta, dense biases, the MLM output bias.
    sublayers = list(model._flatten_layers(include_self=False, recursive=True))
    layer_norm_weights = [w for layer in sublayers if isinstance(layer, keras.layers.LayerNormalization)
                          for w in layer.trainable_weights]
    dense_biases = [layer.bias for layer in sublayers if isinstance(layer, keras.layers.Dense)]
    expected_excluded = {w.path for w in layer_norm_weights + dense_biases + [model.mlm_head.output_bias]}
    all_paths = {v.path for v in model.trainable_variables}
    assert len(all_paths) == len(model.trainable_variables) == 32
    assert len(layer_norm_weights) == 8 and len(dense_biases) == 10

    for name in ("lamb", "adamw"):
        optimizer = create_optimizer(name, 1e-3, num_train_steps=10, num_warmup_steps=1)
        no_decay = {v.path for v in model.trainable_variables if not optimizer.uses_weight_decay(v)}
        assert no_decay == expected_excluded
        if name == "lamb":
            assert {v.path for v in model.trainable_variables if not optimizer.uses_layer_adaptation(v)} == no_decay
    decayed = all_paths - expected_excluded
    assert {p.rsplit("/", 1)[-1] for p in decayed} == {"kernel", "word_embeddings", "token_type_embeddings",
                                                       "position_embeddings"}
    assert len(decayed) == 13


def test_empty_layer_adaptation_list_is_honoured_and_none_follows_weight_decay():
    gamma = _variable("LayerNorm/gamma", np.ones(3, np.float32))
    assert not Lamb(1e-3).uses_layer_adaptation(gamma)
    assert Lamb(1e-3, exclude_from_layer_adaptation=[]).uses_layer_adaptation(gamma)
    assert Lamb(1e-3, exclude_from_weight_decay=["gamma"]).layer_adaptation_exclusions == ["gamma"]
    assert not AdamWeightDecay(1e-3, weight_decay_rate=0.0).uses_weight_decay(_variable("dense/kernel", [1.0]))


# --- serialization ----------------------------------------------------------------------------


def test_config_round_trip_keeps_every_hyperparameter():
    optimizer = Lamb(WarmupPolynomialDecay(3e-4, 50, 5, power=0.5), weight_decay_rate=0.02, beta_1=0.8, beta_2=0.99,
                     epsilon=1e-7, exclude_from_weight_decay=["bias"], exclude_from_layer_adaptation=["gamma"],
                     global_clipnorm=2.0)
    config = optimizer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(optimizer))
    assert type(restored) is Lamb and restored.get_config() == config
    assert Lamb.from_config(optimizer.get_config()).get_config() == config
    assert (restored.weight_decay_rate, restored.beta_1, restored.beta_2, restored.epsilon) == (0.02, 0.8, 0.99, 1e-7)
    assert restored.weight_decay_exclusions == ["bias"] and restored.layer_adaptation_exclusions == ["gamma"]
    assert restored.global_clipnorm == 2.0
    assert restored._learning_rate.get_config() == optimizer._learning_rate.get_config()
    assert float(restored.learning_rate) == pytest.approx(0.0)  # step 0 of the warmup
    adamw = AdamWeightDecay(1e-3, weight_decay_rate=0.0)
    assert type(AdamWeightDecay.from_config(adamw.get_config())) is AdamWeightDecay
    assert AdamWeightDecay.from_config(adamw.get_config()).weight_decay_rate == 0.0


def test_saved_model_reloads_with_optimizer_type_config_and_state(tmp_path):
    def small_model():
        inputs = keras.Input((4,))
        x = keras.layers.Dense(8, name="dense")(inputs)
        x = keras.layers.LayerNormalization(name="LayerNorm")(x)
        return keras.Model(inputs, keras.layers.Dense(1, name="output")(x))

    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    model = small_model()
    model.compile(optimizer=create_optimizer("lamb", 1e-2, num_train_steps=20, num_warmup_steps=2), loss="mse")
    model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")

    assert type(loaded.optimizer) is Lamb
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(loaded.optimizer.iterations) == 3
    # Same moments and step: one more update lands on the same weights.
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_keras_weight_decay_and_bad_patterns_are_rejected():
    with pytest.raises(ValueError, match="weight_decay_rate"):
        Lamb(1e-3, weight_decay=0.1)
    with pytest.raises(ValueError, match="exclude_from_weight_decay"):
        AdamWeightDecay(1e-3, exclude_from_weight_decay="bias")
    with pytest.raises(NotImplementedError, match="constructor"):
        Lamb(1e-3).exclude_from_weight_decay(var_names=["bias"])


# --- training ---------------------------------------------------------------------------------


def _token_classifier():
    """Small model with what matters to the optimizer: an embedding lookup (sparse gradients),
    a LayerNorm, dense kernels and biases, float32 logits under any dtype policy."""
    tokens = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(32, 8, name="word_embeddings")(tokens)
    x = keras.layers.LayerNormalization(name="LayerNorm")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(8, activation="tanh", name="dense")(x)
    return keras.Model(tokens, keras.layers.Dense(3, dtype="float32", name="logits")(x))


def _token_batch():
    rng = np.random.default_rng(6)
    return rng.integers(0, 32, size=(8, 6)).astype(np.int32), rng.integers(0, 3, size=(8,)).astype(np.int32)


def _compile(model, optimizer, start, jit_compile=False):
    model.set_weights(start)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile)
    return model


def _train_one_step(model, sample_weight=None):
    model.fit(*_token_batch(), sample_weight=sample_weight, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model


def _assert_same_weights(actual, expected, start, rtol=1e-4, atol=1e-6):
    moved = min(np.abs(e - s).max() for e, s in zip(expected, start))
    assert moved > 1e-5, "the step left a variable unchanged"
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def test_train_step_under_xla_matches_the_traced_step():
    keras.utils.set_random_seed(11)  # the same start whatever ran before in this process
    start = _token_classifier().get_weights()
    xla = _train_one_step(_compile(_token_classifier(), create_optimizer("lamb", 1e-2, 10, 0), start, jit_compile=True))
    traced = _train_one_step(_compile(_token_classifier(), create_optimizer("lamb", 1e-2, 10, 0), start))
    # XLA fuses and reorders float32 sums: a few 1e-6 differences on weights that moved ~1e-2.
    _assert_same_weights(xla.get_weights(), traced.get_weights(), start, atol=1e-5)


def test_mirrored_strategy_matches_one_device_for_the_same_global_batch():
    cpus = tf.config.list_logical_devices("CPU")
    assert len(cpus) >= 2, "conftest configures two logical CPUs"
    start = _token_classifier().get_weights()
    # Each replica gets half of the batch. Weighting the halves very differently makes their
    # gradients' norms differ and the global norm exceed the clip threshold, so the result
    # depends on clipping the summed gradient rather than each replica's share.
    weights = np.array([30.0] * 4 + [0.3] * 4, np.float32)
    single = _compile(_token_classifier(), create_optimizer("lamb", 1e-2, 10, 0), start)
    tokens, labels = _token_batch()
    with tf.GradientTape() as tape:
        loss = single.compute_loss(tokens, labels, single(tokens), sample_weight=weights)
    assert float(tf.linalg.global_norm(tape.gradient(loss, single.trainable_variables))) > 2.0
    _train_one_step(single, weights)

    # Reduction through one device rather than collective ops: TensorFlow numbers collective
    # instances per strategy object, so a second collective MirroredStrategy in the same
    # process (another test's) would collide with this one's instance keys.
    strategy = tf.distribute.MirroredStrategy([d.name for d in cpus[:2]],
                                              cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        mirrored = _compile(_token_classifier(), create_optimizer("lamb", 1e-2, 10, 0), start)
    _train_one_step(mirrored, weights)
    _assert_same_weights(mirrored.get_weights(), single.get_weights(), start)


def test_loss_scale_optimizer_in_mixed_float16_unscales_before_the_update():
    start = _token_classifier().get_weights()
    # No clipping here: a clipped gradient would hide a missing unscale.
    full = _train_one_step(_compile(_token_classifier(), create_optimizer("adamw", 1e-2, 10, 0, global_clipnorm=None),
                                    start))
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        wrapped = keras.optimizers.LossScaleOptimizer(create_optimizer("adamw", 1e-2, 10, 0, global_clipnorm=None))
        mixed = _train_one_step(_compile(_token_classifier(), wrapped, start))
    finally:
        keras.mixed_precision.set_global_policy("float32")

    inner = wrapped.inner_optimizer
    assert isinstance(inner, AdamWeightDecay) and int(inner.iterations) == 1  # the step was not skipped
    assert all(v.dtype == "float32" for v in mixed.trainable_variables)
    assert all(np.isfinite(w).all() for w in mixed.get_weights())
    # First moments are 0.1 * gradient: still-scaled gradients would be 2**15 times too large.
    for half, single in zip(inner._first_moments, full.optimizer._first_moments):
        half, single = half.numpy(), single.numpy()
        assert np.abs(single).max() > 0
        assert np.abs(half - single).max() <= 0.02 * np.abs(single).max(), half.shape
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(wrapped))
    assert type(restored.inner_optimizer) is AdamWeightDecay


# --- create_optimizer ---------------------------------------------------------------------------


def test_create_optimizer_builds_the_original_configuration():
    lamb = create_optimizer("LAMB", 2e-3, num_train_steps=100, num_warmup_steps=10)
    assert type(lamb) is Lamb and lamb.global_clipnorm == 1.0 and lamb.weight_decay_rate == 0.01
    assert (lamb.beta_1, lamb.beta_2, lamb.epsilon) == (0.9, 0.999, 1e-6)
    assert lamb.weight_decay_exclusions == ["LayerNorm", "layer_norm", "bias"]
    schedule = lamb._learning_rate
    assert isinstance(schedule, WarmupPolynomialDecay)
    assert (schedule.initial_learning_rate, schedule.num_train_steps, schedule.num_warmup_steps) == (2e-3, 100, 10)
    adamw = create_optimizer("adamw", 1e-4, 10, 0, global_clipnorm=None, poly_power=2.0)
    assert type(adamw) is AdamWeightDecay and adamw.global_clipnorm is None and adamw._learning_rate.power == 2.0


@pytest.mark.parametrize("kwargs, flag", [
    (dict(name="sgd"), "optimizer"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(learning_rate=-1e-3), "learning_rate"),
    (dict(num_train_steps=-5), "num_train_steps"),
    (dict(num_train_steps=0), "num_train_steps"),
    (dict(num_warmup_steps=-1), "num_warmup_steps"),
    (dict(num_warmup_steps=101), "num_warmup_steps"),
    (dict(num_train_steps=10.5), "num_train_steps"),
    (dict(end_learning_rate=1.0), "end_learning_rate"),
    (dict(poly_power=0.0), "poly_power"),
    (dict(global_clipnorm=0.0), "global_clipnorm"),
    (dict(weight_decay_rate=-0.1), "weight_decay_rate"),
    (dict(beta_2=1.0), "beta_2"),
])
def test_create_optimizer_names_the_bad_flag(kwargs, flag):
    arguments = dict(name="lamb", learning_rate=1e-3, num_train_steps=100, num_warmup_steps=10)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=flag):
        create_optimizer(**arguments)
