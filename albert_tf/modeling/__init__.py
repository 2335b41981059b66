"""Keras 3 layers and models of ALBERT."""

from albert_tf.modeling.embedding import AlbertEmbedding
from albert_tf.modeling.encoder import INPUT_NAMES, AlbertEncoder
from albert_tf.modeling.heads import AlbertClassificationHead, AlbertMaskedLMHead
from albert_tf.modeling.models import AlbertClassifier, AlbertPretrainer, AlbertTokenClassifier, MultipleChoiceScorer
from albert_tf.modeling.squad import SquadModel
from albert_tf.modeling.transformer import AlbertSelfAttention, AlbertTransformerBlock

__all__ = ["AlbertEmbedding", "AlbertEncoder", "AlbertClassificationHead", "AlbertMaskedLMHead", "AlbertClassifier",
           "AlbertPretrainer", "AlbertTokenClassifier", "MultipleChoiceScorer", "SquadModel", "AlbertSelfAttention",
           "AlbertTransformerBlock", "INPUT_NAMES"]
