"""Pretraining data: corpus -> sharded TFRecords (`generation`) and TFRecords -> tf.data (`pretraining_dataset`).

The generator side never imports TensorFlow, so its worker processes start in milliseconds and
stay small; only the reader needs TensorFlow.
"""
