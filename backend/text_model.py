"""The text model: a transformers instruct (chat) model and its tokenizer, kept warm.

``load_text_model(job, model)`` resolves ``model`` (a Hugging Face id or a local folder;
empty means ``ATELIER_TEXT_MODEL``, else ``core.families.DEFAULT_TEXT_MODEL``) through ``models.locate``
inside ``job.load``, so the model loads once per (model, device, dtype) and stays in memory
for the next request.
Weights load from safetensors only and no repository code ever runs (no
``trust_remote_code``): a model's files are data.

The default, Qwen2.5-1.5B-Instruct, is Apache-2.0, about 3 GB in bfloat16, follows
instructions and writes JSON reliably, and still answers in seconds on a CPU; its chat
template is ChatML, which the tiny test model imitates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from core.errors import TaskError
from core.families import DEFAULT_TEXT_MODEL


@dataclass
class TextModel:
    """A loaded instruct model; ``grammars`` caches compiled grammars by schema text."""

    name: str
    model: Any
    tokenizer: Any
    grammar_compiler: Any = None
    grammars: dict = field(default_factory=dict)

    @property
    def device(self):
        return self.model.device

    @property
    def stop_token_ids(self) -> list[int]:
        """Tokens that end an answer (the generation config may list several)."""
        ids = self.model.generation_config.eos_token_id
        if ids is None:
            ids = self.tokenizer.eos_token_id
        return [ids] if isinstance(ids, int) else list(ids)


def load_text_model(job, model: str = "") -> TextModel:
    """The instruct model named by ``model`` (id or folder), loaded once and kept warm."""
    name = model.strip() or os.environ.get("ATELIER_TEXT_MODEL", "").strip() or DEFAULT_TEXT_MODEL
    if name == "builtin":
        raise TaskError("bad_request", "the built-in engine runs inside Blender, not in the backend",
                        hint=f"name a text model here, for example {DEFAULT_TEXT_MODEL}")
    return job.load("text", name, lambda located, device, dtype: _build(name, located, device, dtype))


def _build(name: str, located, device, dtype) -> TextModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = str(located.path_or_id)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, revision=located.revision, trust_remote_code=False
        )
        lm = AutoModelForCausalLM.from_pretrained(
            source, revision=located.revision, dtype=dtype, use_safetensors=True,
            trust_remote_code=False,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise TaskError(
            "model_invalid",
            f"{name} could not be loaded as a text model: {exc}",
            hint="give the id or folder of a transformers causal LM with safetensors weights",
        ) from exc
    if not getattr(tokenizer, "chat_template", None):
        raise TaskError(
            "model_invalid",
            f"{name} has no chat template, so it is not an instruct model",
            hint=f"use an instruct (chat) model, for example {DEFAULT_TEXT_MODEL}",
        )
    lm.to(device)
    lm.eval()
    return TextModel(name=name, model=lm, tokenizer=tokenizer)
