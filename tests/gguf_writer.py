"""Writes a Hugging Face Qwen2 folder (the tiny random text model) as one GGUF file.

llama.cpp reads models only as GGUF. This is the small subset of llama.cpp's own converter that a
float32 Qwen2 with a byte-level BPE tokenizer needs: the architecture's hyperparameters, the
tensors under llama.cpp's names (the ``gguf`` package's name map does the renaming), and the
tokenizer as "gpt2" BPE with Qwen2's pre-tokenizer and the chat template.
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
from safetensors.numpy import load_file

ARCHITECTURE = "qwen2"


def write_gguf(model_folder: Path, gguf_file: Path) -> Path:
    """Write the Qwen2 model in ``model_folder`` (safetensors, tokenizer.json, chat template) to
    ``gguf_file``; return ``gguf_file``."""
    model_folder = Path(model_folder)
    config = json.loads((model_folder / "config.json").read_text(encoding="utf-8"))
    if config["model_type"] != ARCHITECTURE:
        raise ValueError(f"{model_folder} holds a {config['model_type']} model; only qwen2 is written")
    writer = gguf.GGUFWriter(str(gguf_file), ARCHITECTURE)
    writer.add_name(model_folder.name)
    _add_hyperparameters(writer, config)
    _add_tokenizer(writer, model_folder, config)
    _add_tensors(writer, model_folder, config["num_hidden_layers"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(gguf_file)


def _add_hyperparameters(writer, config: dict) -> None:
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    # transformers 5 keeps rope settings under "rope_parameters", older versions at the top.
    rope = config.get("rope_parameters") or config
    writer.add_rope_freq_base(float(rope["rope_theta"]))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_file_type(0)  # all tensors float32


def _add_tokenizer(writer, model_folder: Path, config: dict) -> None:
    tokenizer = json.loads((model_folder / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = tokenizer["model"]["vocab"]
    special = {added["id"] for added in tokenizer["added_tokens"] if added["special"]}
    by_id = sorted((token_id, token) for token, token_id in vocab.items())
    if [token_id for token_id, _ in by_id] != list(range(config["vocab_size"])):
        raise ValueError(f"{model_folder}/tokenizer.json: token ids are not 0..{config['vocab_size'] - 1}")
    by_text = {token: token_id for token_id, token in by_id}

    writer.add_tokenizer_model("gpt2")
    # Without the pre-tokenizer name llama.cpp falls back to GPT-2's regex and warns that the
    # output will be wrong; Qwen2's regex is the one the tiny tokenizer was trained with.
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list([token for _, token in by_id])
    writer.add_token_types([
        gguf.TokenType.CONTROL if token_id in special else gguf.TokenType.NORMAL for token_id, _ in by_id
    ])
    writer.add_token_merges([" ".join(pair) for pair in tokenizer["model"]["merges"]])
    # Qwen2 has no BOS token of its own; llama.cpp conversions point it at <|endoftext|> and
    # never add it, as transformers does not.
    writer.add_bos_token_id(by_text["<|endoftext|>"])
    writer.add_add_bos_token(False)
    writer.add_eos_token_id(config["eos_token_id"])
    writer.add_pad_token_id(config["pad_token_id"])
    writer.add_chat_template((model_folder / "chat_template.jinja").read_text(encoding="utf-8"))


def _add_tensors(writer, model_folder: Path, block_count: int) -> None:
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, block_count)
    for hf_name, array in load_file(str(model_folder / "model.safetensors")).items():
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ValueError(f"{model_folder}: no llama.cpp name for tensor {hf_name}")
        writer.add_tensor(gguf_name, array)
