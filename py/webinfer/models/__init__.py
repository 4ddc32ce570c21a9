"""Ready-made models: the WordPiece tokenizer, BERT graphs (all-MiniLM-L6-v2) and SentenceEncoder.

    from webinfer.models import SentenceEncoder
    enc = SentenceEncoder.load("out/minilm", backend="auto")
    emb = enc.encode(["a sentence", "another"])        # Tensor float32 [2, 384]
"""

from .bert import BertConfig, build_bert
from .minilm import ModelFilesNotFound, minilm_path
from .sentence_encoder import SentenceEncoder, save_encoder
from .tokenizer import Tokenizer

__all__ = [
    "BertConfig", "ModelFilesNotFound", "SentenceEncoder", "Tokenizer", "build_bert", "minilm_path", "save_encoder",
]
