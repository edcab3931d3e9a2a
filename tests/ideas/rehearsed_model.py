"""A tiny instruct model that has learnt a few answers by heart, for end-to-end idea tests.

A random-weight model writes schema-valid ideas under the grammar, but its layouts are noise
and almost never pass the semantic checks, so a whole ``suggest_scene`` through the backend
could only be tested for failure. This model is trained (half a minute on a CPU) until each
rehearsed answer is so likely that sampling (temperature 0.7, top-p 0.95) cannot stray from
it. Everything after that is the real path: ``from_pretrained`` from safetensors, the chat
template, xgrammar's constraint, sampling, the checks, the protocol and Blender. Asked
anything else, it answers noise like any random model.
"""

from __future__ import annotations

from pathlib import Path

# Each answer token must hold at least this probability. Sampling at temperature 0.7 raises
# it further (to above 0.98), over top-p's 0.95, so the sampler keeps only that token.
CONFIDENCE = 0.95
MAX_STEPS = 600


def rehearse(tokenizer_folder: Path, folder: Path, chats: list[list[dict]]) -> Path:
    """Train a small Qwen2 model to give every assistant message of ``chats`` after the
    messages before it; save it to ``folder``.

    ``tokenizer_folder`` holds the tiny test model's tokenizer, reused as it is.
    """
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
    sequences = [_sequence(tokenizer, chat, stop) for chat in chats]

    # Wider than the random test model (32): it learns several answers quickly.
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=stop,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    for step in range(MAX_STEPS):
        optimiser.zero_grad()
        for ids, labels in sequences:
            model(input_ids=ids, labels=labels).loss.backward()
        optimiser.step()
        if step % 10 == 9 and _least_likely(model, sequences) > CONFIDENCE:
            break
    else:
        raise AssertionError(f"the model did not learn its answers in {MAX_STEPS} steps")
    model.generation_config.eos_token_id = stop
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def _sequence(tokenizer, chat: list[dict], stop: int):
    """Token ids of ``chat`` as the chat template writes it, and labels marking the answers."""
    import torch

    ids: list[int] = []
    labels: list[int] = []
    for index, message in enumerate(chat):
        if message["role"] != "assistant":
            continue
        prompt = tokenizer.apply_chat_template(chat[:index], add_generation_prompt=True, tokenize=True,
                                               return_dict=True)["input_ids"]
        assert list(prompt[:len(ids)]) == ids, "the template tokenises earlier turns differently"
        answer = tokenizer.encode(message["content"], add_special_tokens=False) + [stop]
        labels += [-100] * (len(prompt) - len(ids)) + answer
        ids = list(prompt) + answer
    return torch.tensor([ids]), torch.tensor([labels])


def _least_likely(model, sequences) -> float:
    """The smallest probability the model gives any answer token."""
    import torch

    lowest = 1.0
    with torch.no_grad():
        for ids, labels in sequences:
            probabilities = model(input_ids=ids).logits[0, :-1].softmax(-1)
            learnt = labels[0, 1:] != -100
            wanted = probabilities.gather(1, ids[0, 1:, None])[learnt]
            lowest = min(lowest, wanted.min().item())
    return lowest
