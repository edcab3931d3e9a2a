"""A tiny random-weight instruct model (Qwen2 architecture) written to a folder.

Tests and ``doctor`` use it to run the real text-model code path (``from_pretrained``,
chat template, constrained decoding) without downloading anything. Its answers are noise;
only the machinery is real. A few hundred kB on disk, milliseconds per token on a CPU.

The tokenizer is byte-level BPE trained on a handful of lines. It is built exactly the way
transformers rebuilds a Qwen2 tokenizer from ``model_type`` (NFC, Qwen2's split regex, byte
level without its own regex): otherwise token ids would change after a reload.
"""

from __future__ import annotations

from pathlib import Path

# ChatML, the format of Qwen2 instruct models; `add_generation_prompt` opens the answer.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Qwen2's pre-tokenizer regex (transformers.models.qwen2.tokenization_qwen2).
QWEN2_SPLIT_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

_TRAINING_LINES = [
    '{"title": "Rainy neon alley", "colors": [{"hex": "#1a2b3c", "name": "Wet asphalt",',
    '"role": "background"}, {"hex": "#ff00aa", "name": "Neon pink", "role": "primary"}]}',
    "You are a colour designer. Answer with one JSON document and nothing else.",
    "A palette for a Moroccan sunset: terracotta, saffron, indigo, sand and mint.",
    "secondary accent highlight shadow primary background",
    "0123456789abcdef #ffffff #000000 [ ] { } , : \" '",
]


def build_tiny_text_model(folder: str | Path, *, vocab_size: int = 400, seed: int = 0) -> Path:
    """Write a tiny random Qwen2 causal LM and its tokenizer to ``folder``; return the folder.

    The folder loads with ``AutoModelForCausalLM.from_pretrained`` and
    ``AutoTokenizer.from_pretrained`` (safetensors weights) like any instruct model.
    """
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    raw = Tokenizer(models.BPE())
    raw.normalizer = normalizers.NFC()
    raw.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        # Every byte stays reachable, so a grammar can ask for any character.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(_TRAINING_LINES, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )
    tokenizer.save_pretrained(folder)

    config = Qwen2Config(
        vocab_size=raw.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(folder, safe_serialization=True)
    return folder
