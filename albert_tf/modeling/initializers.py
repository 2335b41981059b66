"""The initializer every ALBERT weight matrix uses."""

import keras


def truncated_normal(stddev):
    # Keras and TF1 both truncate at two standard deviations, so fresh weights have the
    # distribution the original code draws from.
    return keras.initializers.TruncatedNormal(stddev=stddev)
