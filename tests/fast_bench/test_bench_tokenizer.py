"""The GPU benchmark's text model gets a tokenizer of the real vocabulary's size, made up in
seconds: it loads as the model's tokenizer, keeps the tokens (and ids) it had, and encodes and
decodes text as before."""

from __future__ import annotations

import json

from transformers import AutoTokenizer

from backend.tiny_text_model import SPECIAL_TOKENS, build_tiny_text_model
from bench.gpu_setup import enlarge_tokenizer

TOKENS = 3000  # the GPU run asks for 151643; the same code, a smaller size
TEXT = 'a cosy reading nook {"title": "Rainy neon alley", "hex": "#1a2b3c"}'


def test_the_tokenizer_grows_to_the_size_asked_keeping_its_tokens(tmp_path):
    build_tiny_text_model(tmp_path)
    before = AutoTokenizer.from_pretrained(tmp_path)
    had = before.get_vocab()

    assert enlarge_tokenizer(tmp_path, TOKENS) == TOKENS
    after = AutoTokenizer.from_pretrained(tmp_path)
    vocab = after.get_vocab()
    assert len(after) == len(vocab) == TOKENS
    assert {token: vocab[token] for token in had} == had  # the tiny tokenizer's ids, specials included
    assert after.convert_tokens_to_ids(SPECIAL_TOKENS) == before.convert_tokens_to_ids(SPECIAL_TOKENS)
    assert after.decode(after(TEXT)["input_ids"]) == TEXT
    assert after.tokenize(" zq") == ["\u0120zq"]  # a made-up word piece is one token
    merges = json.loads((tmp_path / "tokenizer.json").read_text())["model"]["merges"]
    assert len(merges) == len({tuple(merge) for merge in merges})  # each merge once
