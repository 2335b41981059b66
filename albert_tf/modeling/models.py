"""Task models built on an AlbertEncoder: pretraining (MLM + SOP), sequence and token classification,
multiple choice."""

import keras

from albert_tf.model_inputs import INPUT_NAMES, MASKED_LM_POSITIONS
from albert_tf.modeling.encoder import encoder_inputs
from albert_tf.modeling.heads import AlbertClassificationHead, AlbertMaskedLMHead
from albert_tf.modeling.initializers import truncated_normal


def _deserialize_encoder(encoder):
    if isinstance(encoder, dict):
        return keras.saving.deserialize_keras_object(encoder)
    return encoder


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertPretrainer(keras.Model):
    """Encoder + masked-LM head + sentence-order head.

    Inputs: the encoder's three int32 inputs plus `masked_lm_positions` [B, P] int32.
    Outputs: `mlm_logits` [B, P, V] and `sop_logits` [B, 2], both float32.

    Args:
        encoder: an `AlbertEncoder`.
        max_predictions_per_seq: optional static P.

    Example:
    >>> from albert_tf.config import AlbertConfig
    >>> from albert_tf.modeling.encoder import AlbertEncoder
    >>> encoder = AlbertEncoder(AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16,
    ...                                      num_hidden_layers=1, num_attention_heads=2, intermediate_size=16))
    >>> model = AlbertPretrainer(encoder)
    >>> out = model({"input_word_ids": [[2, 7, 4, 3]], "input_mask": [[1, 1, 1, 1]],
    ...              "input_type_ids": [[0, 0, 0, 0]], "masked_lm_positions": [[2]]})
    >>> tuple(out["mlm_logits"].shape), tuple(out["sop_logits"].shape)
    ((1, 1, 50), (1, 2))
    """

    def __init__(self, encoder, max_predictions_per_seq=None, **kwargs):
        encoder = _deserialize_encoder(encoder)
        config = encoder.albert_config
        kwargs.setdefault("name", "albert_pretrainer")

        # === Layers ===
        mlm_head = AlbertMaskedLMHead(encoder.embeddings, hidden_act=config.hidden_act,
                                      initializer_range=config.initializer_range, name="predictions")
        sop_head = AlbertClassificationHead(2, dropout_rate=0.0, initializer_range=config.initializer_range,
                                            name="seq_relationship")

        # === Functional Model ===
        inputs = encoder_inputs(encoder.sequence_length)
        inputs[MASKED_LM_POSITIONS] = keras.Input(shape=(max_predictions_per_seq,), dtype="int32",
                                                  name=MASKED_LM_POSITIONS)
        encoded = encoder({name: inputs[name] for name in INPUT_NAMES})
        outputs = {
            "mlm_logits": mlm_head(encoded["sequence_output"], inputs[MASKED_LM_POSITIONS]),
            "sop_logits": sop_head(encoded["pooled_output"]),
        }
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.mlm_head = mlm_head
        self.sop_head = sop_head
        self.max_predictions_per_seq = max_predictions_per_seq

    def get_config(self):
        return {"encoder": keras.saving.serialize_keras_object(self.encoder),
                "max_predictions_per_seq": self.max_predictions_per_seq, "name": self.name,
                "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertClassifier(keras.Model):
    """Encoder + dropout + dense on the pooled output: GLUE/CLUE-style classification.

    `num_classes=1` gives a regression output (STS-B). Output: float32 logits [B, C].

    Args:
        encoder: an `AlbertEncoder`.
        num_classes: number of labels.
        dropout_rate: classifier dropout (0.1 in the reference fine-tuning code).
    """

    def __init__(self, encoder, num_classes, dropout_rate=0.1, **kwargs):
        encoder = _deserialize_encoder(encoder)
        kwargs.setdefault("name", "albert_classifier")

        # === Layers ===
        head = AlbertClassificationHead(num_classes, dropout_rate=dropout_rate,
                                        initializer_range=encoder.albert_config.initializer_range,
                                        name="classifier")

        # === Functional Model ===
        inputs = encoder_inputs(encoder.sequence_length)
        logits = head(encoder(inputs)["pooled_output"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.head = head
        self.num_classes = num_classes
        self.dropout_rate = dropout_rate

    def get_config(self):
        return {"encoder": keras.saving.serialize_keras_object(self.encoder), "num_classes": self.num_classes,
                "dropout_rate": self.dropout_rate, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertTokenClassifier(keras.Model):
    """Encoder + dropout + dense on every position of the sequence output: token tagging (NER).

    The layout of Hugging Face `AlbertForTokenClassification` (dropout, then `classifier` H → num_labels).
    Output: float32 logits [B, T, num_labels]; which positions count is the caller's business (the NER
    job scores only the first piece of each word).

    Args:
        encoder: an `AlbertEncoder`.
        num_labels: number of tags.
        dropout_rate: dropout on the sequence output (Hugging Face uses `classifier_dropout_prob`, 0.1).

    Example:
    >>> from albert_tf.config import AlbertConfig
    >>> from albert_tf.modeling.encoder import AlbertEncoder
    >>> encoder = AlbertEncoder(AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16,
    ...                                      num_hidden_layers=1, num_attention_heads=2, intermediate_size=16))
    >>> model = AlbertTokenClassifier(encoder, num_labels=5)
    >>> logits = model({"input_word_ids": [[2, 7, 4, 3]], "input_mask": [[1, 1, 1, 1]],
    ...                 "input_type_ids": [[0, 0, 0, 0]]})
    >>> tuple(logits.shape)
    (1, 4, 5)
    """

    def __init__(self, encoder, num_labels, dropout_rate=0.1, **kwargs):
        encoder = _deserialize_encoder(encoder)
        kwargs.setdefault("name", "albert_token_classifier")

        # === Layers ===
        dropout = keras.layers.Dropout(dropout_rate, name="dropout")
        # float32 so the logits (and the loss on them) stay float32 under mixed precision.
        classifier = keras.layers.Dense(num_labels,
                                        kernel_initializer=truncated_normal(encoder.albert_config.initializer_range),
                                        dtype="float32", name="classifier")

        # === Functional Model ===
        inputs = encoder_inputs(encoder.sequence_length)
        logits = classifier(dropout(encoder(inputs)["sequence_output"]))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.dropout = dropout
        self.classifier = classifier
        self.num_labels = num_labels
        self.dropout_rate = dropout_rate

    def get_config(self):
        return {"encoder": keras.saving.serialize_keras_object(self.encoder), "num_labels": self.num_labels,
                "dropout_rate": self.dropout_rate, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="albert_tf")
class MultipleChoiceScorer(keras.Model):
    """Scores each of `num_choices` packed sequences with a 1-output `AlbertClassifier`: logits [B, num_choices].

    Inputs are flattened per question, `[B, num_choices * sequence_length]`, as stored in the records;
    the weights are the classifier's (the original's RACE head is its `output_weights` [1, H]).

    Args:
        classifier: an `AlbertClassifier` with one output.
        num_choices: answers per question.
        sequence_length: the packed length of one choice.
    """

    def __init__(self, classifier, num_choices, sequence_length, **kwargs):
        if isinstance(classifier, dict):
            classifier = keras.saving.deserialize_keras_object(classifier)
        kwargs.setdefault("name", "albert_multiple_choice")

        # === Functional Model ===
        inputs = encoder_inputs(num_choices * sequence_length)
        flat = {name: keras.ops.reshape(value, (-1, sequence_length)) for name, value in inputs.items()}
        scores = keras.ops.reshape(classifier(flat), (-1, num_choices))
        super().__init__(inputs=inputs, outputs=scores, **kwargs)

        # === Config ===
        self.classifier = classifier
        self.num_choices = num_choices
        self.sequence_length = sequence_length

    def get_config(self):
        return {"classifier": keras.saving.serialize_keras_object(self.classifier), "num_choices": self.num_choices,
                "sequence_length": self.sequence_length, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
