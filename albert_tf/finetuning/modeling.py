"""The fine-tuning model of a task: AlbertClassifier, or a per-choice scorer for multiple choice."""

import keras
from keras import ops

from albert_tf.modeling import AlbertClassifier, AlbertEncoder


class MultipleChoiceScorer(keras.Model):
    """Scores each of `num_choices` packed sequences with a 1-output classifier; logits [B, num_choices].

    Inputs are flattened per question, `[B, num_choices * sequence_length]`, as stored in the records.
    """

    def __init__(self, classifier: AlbertClassifier, num_choices: int, sequence_length: int, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier
        self.num_choices = num_choices
        self.sequence_length = sequence_length

    def call(self, inputs, training=False):
        flat = {name: ops.reshape(value, (-1, self.sequence_length)) for name, value in inputs.items()}
        scores = self.classifier(flat, training=training)
        return ops.reshape(scores, (-1, self.num_choices))


def build_model(task, config, max_seq_length: int, dropout_rate: float = 0.1, static_shapes: bool = False):
    """(model to train, the AlbertClassifier inside it that checkpoints load into and save from)."""
    static = max_seq_length if static_shapes or task.is_multiple_choice else None
    classifier = AlbertClassifier(AlbertEncoder(config, sequence_length=static), task.num_outputs,
                                  dropout_rate=dropout_rate)
    if not task.is_multiple_choice:
        return classifier, classifier
    model = MultipleChoiceScorer(classifier, task.num_choices, max_seq_length, name="albert_multiple_choice")
    width = task.num_choices * max_seq_length
    model({name: ops.zeros((1, width), "int32") for name in ("input_word_ids", "input_mask", "input_type_ids")})
    return model, classifier


def loss_for(task):
    if task.is_regression:
        return keras.losses.MeanSquaredError()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
