"""The fine-tuning model of a task: AlbertClassifier, or a MultipleChoiceScorer around one."""

import keras

from albert_tf.modeling import AlbertClassifier, AlbertEncoder, MultipleChoiceScorer


def build_model(task, config, max_seq_length: int, dropout_rate: float = 0.1, static_shapes: bool = False):
    """(model to train, the AlbertClassifier inside it that checkpoints load into and save from)."""
    static = max_seq_length if static_shapes or task.is_multiple_choice else None
    classifier = AlbertClassifier(AlbertEncoder(config, sequence_length=static), task.num_outputs,
                                  dropout_rate=dropout_rate)
    if not task.is_multiple_choice:
        return classifier, classifier
    return MultipleChoiceScorer(classifier, task.num_choices, max_seq_length), classifier


def loss_for(task):
    if task.is_regression:
        return keras.losses.MeanSquaredError()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
