"""Ready-made models: the WordPiece and byte-level BPE tokenizers, BERT graphs (all-MiniLM-L6-v2), SentenceEncoder.

    from webinfer.models import SentenceEncoder
    enc = SentenceEncoder.load("out/minilm", backend="auto")
    emb = enc.encode(["a sentence", "another"])        # Tensor float32 [2, 384]
"""

from .bert import BertConfig, build_bert
from .bpe import BPETokenizer
from .minilm import ModelFilesNotFound, minilm_path
from .sentence_encoder import SentenceEncoder, save_encoder
from .tokenizer import Tokenizer

__all__ = [
    "BPETokenizer", "BertConfig", "ModelFilesNotFound", "SentenceEncoder", "Tokenizer", "build_bert", "minilm_path",
    "save_encoder",
]
