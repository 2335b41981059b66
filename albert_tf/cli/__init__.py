"""The console commands and the training scripts' flags and `main`s.

Every command shares one process-wide setting, applied here because importing any command imports this
package first: glibc malloc arenas capped (`albert_tf.malloc_arenas`) before TensorFlow's threads allocate."""

from albert_tf.malloc_arenas import limit_malloc_arenas

limit_malloc_arenas()
