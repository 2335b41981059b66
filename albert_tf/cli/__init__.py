"""The console commands and the training scripts' flags and `main`s.

Every command shares one process-wide setting, applied here because importing any command imports this
package first: glibc's malloc settings (`albert_tf.malloc_settings`) made before TensorFlow's threads allocate."""

from albert_tf.malloc_settings import apply_malloc_settings

apply_malloc_settings()
