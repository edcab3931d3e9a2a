"""The prompt-embedding cache: a text encoder never encodes the same input twice.

Each text encoder of a pipeline remembers what it returned for its most recent inputs (token
ids, attention mask and every other argument, all part of the key). A job whose prompt, negative
prompt and settings were seen before gets copies of those outputs instead of running the encoder
again. A forward pass is deterministic, so the copy holds the very values a new pass would
compute: the cache is exact, which is why it is always on, fast path or not.

The cache sits on the encoder modules themselves, so the edit pipelines made with ``from_pipe``
(refine, inpaint, upscale, projection) share it, and it is freed with the model. Callers get
copies, never the stored tensors, so nothing a pipeline does to its embeddings reaches the next
job. The encoders' weights never change after loading (Atelier loads no LoRA), so the inputs
alone decide the output.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

# Memory kept per text encoder, least recently used dropped first. An SDXL prompt costs about
# 6.5 MB in its second encoder (all hidden states in fp16), a FLUX prompt 4 MB in T5.
MAX_BYTES = 64 * 2**20
# Inputs larger than this are not keys (token ids are a few KB; anything larger is no prompt).
_MAX_KEY_BYTES = 2**20
TEXT_ENCODERS = ("text_encoder", "text_encoder_2", "text_encoder_3")
# Where an encoder keeps its cache, installed or not (so a re-install keeps what it remembers).
_CACHE = "_atelier_prompt_cache"


def install(pipe) -> list[str]:
    """Cache the outputs of each of ``pipe``'s text encoders; returns their names.

    Call it before every pipeline call, not only once: with model CPU offload, diffusers removes
    and re-makes accelerate's hooks at the end of each call, which puts the encoder's own forward
    back and so drops this wrapper. Installing again puts the same cache (and what it remembers)
    back in front of whatever forward the encoder has now; where it is in front already, nothing
    changes."""
    from torch import nn

    names = []
    for name in TEXT_ENCODERS:
        encoder = getattr(pipe, name, None)
        if isinstance(encoder, nn.Module):
            _wrap(encoder)
            names.append(name)
    return names


def _wrap(encoder) -> None:
    """Put ``encoder``'s cache (made at the first call) in front of its current forward."""
    cache = encoder.__dict__.get(_CACHE)
    if cache is None:
        cache = RememberedOutputs(encoder.forward)
        encoder.__dict__[_CACHE] = cache
    elif any(cache is forward for forward in (encoder.__dict__.get("forward"),
                                              encoder.__dict__.get("_old_forward"))):
        return  # on the call path already (``_old_forward``: below an offload hook added after it)
    else:
        cache.forward = encoder.forward
    encoder.forward = cache


class RememberedOutputs:
    """A forward that returns copies of earlier outputs for inputs it has seen (bounded LRU)."""

    def __init__(self, forward, max_bytes: int = MAX_BYTES) -> None:
        functools.update_wrapper(self, forward)  # callers that inspect the signature see the real one
        self.forward = forward
        self.max_bytes = max_bytes
        self.entries: OrderedDict = OrderedDict()  # key -> (output, bytes)
        self.bytes = 0

    def __call__(self, *args, **kwargs):
        import torch

        key = None if torch.is_grad_enabled() else _key(args, kwargs)
        if key is None:
            return self.forward(*args, **kwargs)
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
            return _copied(entry[0])
        output = self.forward(*args, **kwargs)
        size = _bytes(output)
        if size <= self.max_bytes:
            self.entries[key] = (output, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, dropped) = self.entries.popitem(last=False)
                self.bytes -= dropped
        return _copied(output)


class _NotAKey(Exception):
    """An argument that cannot be part of a key (the call runs uncached)."""


def _key(args: tuple, kwargs: dict):
    try:
        return (tuple(_part(value) for value in args),
                tuple((name, _part(value)) for name, value in sorted(kwargs.items())))
    except _NotAKey:
        return None


def _part(value):
    import torch

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        if value.numel() * value.element_size() > _MAX_KEY_BYTES:
            raise _NotAKey
        # The values are read back to the CPU once per encoder call, before denoising starts.
        raw = value.detach().reshape(-1).cpu().view(torch.uint8).numpy().tobytes()
        return ("tensor", str(value.dtype), tuple(value.shape), str(value.device), raw)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, *(_part(item) for item in value))
    raise _NotAKey


def _bytes(output) -> int:
    import torch

    if isinstance(output, torch.Tensor):
        return output.numel() * output.element_size()
    if isinstance(output, dict):
        return sum(_bytes(value) for value in output.values())
    if isinstance(output, (tuple, list)):
        return sum(_bytes(value) for value in output)
    return 0


def _copied(output):
    """``output`` with every tensor copied (model outputs, tuples and lists rebuilt around them)."""
    import torch

    if isinstance(output, torch.Tensor):
        return output.clone()
    if isinstance(output, dict):  # transformers' ModelOutput is an ordered dict of its fields
        return type(output)(**{name: _copied(value) for name, value in output.items()})
    if isinstance(output, (tuple, list)):
        return type(output)(_copied(value) for value in output)
    return output
