"""Ready-made models: the WordPiece and byte-level BPE tokenizers, BERT graphs (all-MiniLM-L6-v2) and
SentenceEncoder; Llama decoders from GGUF files (SmolLM2) and CausalLM.

    from webinfer.models import SentenceEncoder, CausalLM
    enc = SentenceEncoder.load("out/minilm", backend="auto")
    emb = enc.encode(["a sentence", "another"])        # Tensor float32 [2, 384]
    lm = CausalLM.load("model.gguf")                    # or a `webinfer convert --model gguf` directory
    lm.generate("The capital of France is", max_new_tokens=8).text
"""

from .bert import BertConfig, build_bert
from .bpe import BPETokenizer
from .causal_lm import CausalLM, Generation
from .llama import LlamaConfig, build_llama, smollm2_path
from .minilm import ModelFilesNotFound, minilm_path
from .sampling import Sampler
from .sentence_encoder import SentenceEncoder, save_encoder
from .tokenizer import Tokenizer

__all__ = [
    "BPETokenizer", "BertConfig", "CausalLM", "Generation", "LlamaConfig", "ModelFilesNotFound", "Sampler",
    "SentenceEncoder", "Tokenizer", "build_bert", "build_llama", "minilm_path", "save_encoder", "smollm2_path",
]
