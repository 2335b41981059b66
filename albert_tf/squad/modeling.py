"""The SQuAD job's model: `SquadModel` (in `albert_tf.modeling.squad`) on a fresh `AlbertEncoder`."""

from albert_tf.modeling.encoder import AlbertEncoder
from albert_tf.modeling.squad import HEADS, SquadAnswerabilityHead, SquadModel, SquadSpanHead

__all__ = ["HEADS", "SquadAnswerabilityHead", "SquadModel", "SquadSpanHead", "build_squad_model"]


def build_squad_model(config, head: str, static_length=None, start_n_top: int = 5, end_n_top: int = 5):
    """A `SquadModel` with every variable created (`static_length`: a fixed sequence length, for TPUs)."""
    return SquadModel(AlbertEncoder(config, sequence_length=static_length), head, start_n_top, end_n_top)
