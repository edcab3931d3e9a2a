"""Schema-constrained JSON from the text model, with one corrective retry.

xgrammar does the constraining (it compiles a JSON schema against the tokenizer's vocabulary
once and masks the logits per token in microseconds; maintained by the MLC team and used by
vLLM and SGLang). Every ``generate`` call gets a new logits processor: xgrammar's matcher
state is single use.

API (used by the palette and ideas tasks)::

    from .structured import generate_json
    from .text_model import load_text_model

    lm = load_text_model(job, request.model)
    answer = generate_json(
        job, lm,
        schema=schema_dict,                   # bounded JSON schema, see token_budget()
        messages=[{"role": "system", "content": "..."}, {"role": "user", "content": "..."}],
        check=lambda doc: [...],              # semantic problems as sentences; [] = fine
        seed=request.seed,
    )
    answer.document   # the parsed, schema-valid document (dict)
    answer.attempts   # 1, or 2 when the retry was needed
    answer.tokens     # tokens generated over all attempts
    answer.problems   # what ``check`` still found after the retry ([] = nothing)

``generate_json`` raises ``TaskError('invalid_output', ...)`` only when neither answer matches
the schema (impossible with a bounded schema under the grammar, but an answer may still be
cut off), ``Cancelled`` when the job is cancelled between two tokens. An answer that matches
the schema but not ``check`` after the retry is returned with its problems: the task repairs
or reports them.

Progress goes out every ``PROGRESS_EVERY`` tokens. The budget is only an upper bound (a real
answer is far shorter), so a task that knows its document's shape passes
``progress_of(text_so_far) -> (step, total)``, e.g. colours written of colours asked, and
progress follows the document; without it progress is ``(tokens, budget)``, honest about
the bound but with a jump to the end when the answer closes early.

Bounded schemas. Decoding stops at the token budget, so the budget must hold the longest
document the grammar allows; ``token_budget(schema)`` computes it, and refuses a schema with
an unbounded part. Give every string a ``pattern`` of bounded width (e.g. ``^[a-z ]{1,40}$``;
``maxLength`` alone is refused: xgrammar 0.2.9 then lets raw control characters through,
which is not JSON, and with a pattern it ignores ``maxLength``), every array ``maxItems``,
every integer and number ``minimum`` and ``maximum``; enums and consts are bounded already.
Then even a random-weight model ends in a valid document. Output is compact JSON (no
whitespace, ``,`` and ``:`` separators).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from core.chat_answer import TEMPERATURE, TOP_P, best_of_two
from core.errors import TaskError, first_line
from core.families import DEFAULT_TEXT_MODEL
from core.schema import DocumentError, parse_json

PROGRESS_EVERY = 8
# Longest JSON spelling of one string character: 4 bytes of UTF-8, or 6 as a \uXXXX escape
# (xgrammar writes pattern strings unescaped; the larger bound holds either way).
_MAX_BYTES_PER_CHAR = 6
# xgrammar 0.2.9 writes a range-bounded number with at most this many fraction digits and
# no exponent (measured; a random model explores the whole range).
_NUMBER_FRACTION_DIGITS = 6
_SEPARATORS = (",", ":")


@dataclass
class StructuredAnswer:
    """A schema-valid document, and what ``check`` still found wrong with it ([] = nothing)."""

    document: dict
    attempts: int
    tokens: int
    problems: list[str] = field(default_factory=list)


def generate_json(
    job,
    lm,
    *,
    schema: dict,
    messages: list[dict],
    check: Callable[[dict], list[str]] | None = None,
    seed: int | None = None,
    stage: str = "writing",
    progress_of: Callable[[str], tuple[int, int]] | None = None,
) -> StructuredAnswer:
    """Ask ``lm`` for a document of ``schema``; retry once with the problems ``check`` found.

    When the second answer still has problems, the schema-valid answer with the fewest (the
    later on a tie: it was told what to fix) is returned with them in ``problems``, and the
    caller decides what to do with them. Only when no answer matches the schema is it an error.
    """
    budget = token_budget(schema)
    grammar = compiled_grammar(lm, schema)
    tokens = 0

    def answer(conversation: list[dict], attempt: int) -> str:
        nonlocal tokens
        text, used = generate_text(
            job, lm, conversation, grammar=grammar, max_new_tokens=budget,
            seed=None if seed is None else seed + attempt - 1,
            stage=stage if attempt == 1 else f"{stage} (second try)",
            progress_of=progress_of,
        )
        tokens += used
        return text

    best, attempts, problems = best_of_two(messages, answer, lambda text: _parse(text, schema), check)
    if best is None:
        raise TaskError(
            "invalid_output",
            f"the text model's answer failed the check twice: {' '.join(problems)}",
            hint="rephrase the prompt, try another seed or use a larger text model",
        )
    return StructuredAnswer(best.document, attempts, tokens, best.problems)


def generate_text(
    job,
    lm,
    messages: list[dict],
    *,
    grammar=None,
    max_new_tokens: int,
    seed: int | None = None,
    stage: str = "writing",
    progress_of: Callable[[str], tuple[int, int]] | None = None,
) -> tuple[str, int]:
    """One answer to the chat ``messages``; constrained by ``grammar`` when given.

    Returns the answer text and the number of tokens generated. Progress: see the module
    docstring.
    """
    import jinja2  # transformers renders chat templates with it (torch requires it too)
    import torch
    import transformers

    try:
        prompt = lm.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
        )
    except jinja2.TemplateError as exc:
        # The template is the model's own file: one that the sandbox stops (it reached for
        # Python internals) or that refuses the conversation makes the model unusable here.
        raise TaskError(
            "model_invalid", f"{lm.name}'s chat template cannot be used: {first_line(exc)}",
            hint="use an instruct model with a standard chat template, for example "
                 f"{DEFAULT_TEXT_MODEL}",
        ) from None
    input_ids = prompt["input_ids"].to(lm.device)
    attention_mask = prompt["attention_mask"].to(lm.device)
    processors = transformers.LogitsProcessorList()
    if grammar is not None:
        from xgrammar.contrib.hf import LogitsProcessor

        processors.append(LogitsProcessor(grammar))
    if seed is not None:
        transformers.set_seed(seed)
    watcher = _ProgressAndCancel(job, lm, input_ids.shape[1], max_new_tokens, stage, progress_of)
    with torch.inference_mode():
        output = lm.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            max_new_tokens=max_new_tokens,
            do_sample=True,
            temperature=TEMPERATURE,
            top_p=TOP_P,
            top_k=None,
            logits_processor=processors,
            stopping_criteria=transformers.StoppingCriteriaList([watcher]),
            eos_token_id=lm.stop_token_ids,
            pad_token_id=(lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None
                          else lm.stop_token_ids[0]),
        )
    new = output[0, input_ids.shape[1]:]
    new = new[~torch.isin(new, torch.tensor(lm.stop_token_ids, device=new.device))]
    text = lm.tokenizer.decode(new, skip_special_tokens=True)
    # The answer is complete: the end of this stage, whatever the measure said last.
    _, total = progress_of(text) if progress_of else (0, max_new_tokens)
    job.progress(total, total, stage)
    return text, int(output.shape[1] - input_ids.shape[1])


def compiled_grammar(lm, schema: dict):
    """The xgrammar grammar for ``schema`` and ``lm``'s vocabulary (compiled once per model)."""
    import xgrammar

    key = json.dumps(schema)  # keeps the property order the schema gives
    if key not in lm.grammars:
        if lm.grammar_compiler is None:
            info = xgrammar.TokenizerInfo.from_huggingface(
                lm.tokenizer, vocab_size=lm.model.config.vocab_size, stop_token_ids=lm.stop_token_ids
            )
            lm.grammar_compiler = xgrammar.GrammarCompiler(info)
        lm.grammars[key] = lm.grammar_compiler.compile_json_schema(
            key, any_whitespace=False, separators=_SEPARATORS, strict_mode=True
        )
    return lm.grammars[key]


class _ProgressAndCancel:
    """A stopping criterion that never stops: it reports progress and raises on cancel."""

    def __init__(self, job, lm, prompt_length: int, budget: int, stage: str, progress_of) -> None:
        self.job, self.lm, self.prompt_length, self.budget = job, lm, prompt_length, budget
        self.stage, self.progress_of, self.tokens, self.last = stage, progress_of, 0, None

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        self.tokens += 1
        self.job.check_cancelled()
        if self.tokens % PROGRESS_EVERY == 0:
            if self.progress_of is None:
                now = (self.tokens, self.budget)
            else:
                written = input_ids[0, self.prompt_length:]
                now = self.progress_of(self.lm.tokenizer.decode(written, skip_special_tokens=True))
            if now != self.last:
                self.job.progress(*now, self.stage)
                self.last = now
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def _parse(text: str, schema: dict) -> tuple[dict | None, list[str]]:
    import jsonschema  # the reference validator; a last guard behind the grammar

    try:
        document = parse_json(text)  # bounded: no RecursionError, no 5000-digit number
    except DocumentError as exc:
        return None, [f"It cannot be read: {exc}."]
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=str)
    if errors:
        return None, [f"It does not match the schema: {errors[0].message}."]
    return document, []


# --------------------------------------------------------------------------- token budget


def token_budget(schema: dict) -> int:
    """Tokens enough for the longest document ``schema`` allows, plus the stop token.

    Every generated token spells at least one byte, so the longest compact serialisation in
    bytes bounds the token count. Raises ``ValueError`` naming the first unbounded part.
    """
    return _max_bytes(schema, schema, "$") + 1


def _max_bytes(node: dict, root: dict, where: str) -> int:
    if "$ref" in node:
        return _max_bytes(_resolve(node["$ref"], root), root, where)
    if "const" in node:
        return _json_len(node["const"])
    if "enum" in node:
        return max(_json_len(value) for value in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return max(_max_bytes(option, root, where) for option in node[key])
    kind = node.get("type")
    if isinstance(kind, list):
        return max(_max_bytes({**node, "type": k}, root, where) for k in kind)
    if kind == "object":
        properties = node.get("properties", {})
        if node.get("additionalProperties", False) not in (False, None) or "patternProperties" in node:
            raise ValueError(f"{where}: objects must not allow extra properties")
        members = [_json_len(name) + 1 + _max_bytes(sub, root, f"{where}.{name}")
                   for name, sub in properties.items()]
        return 2 + sum(members) + max(len(members) - 1, 0)
    if kind == "array":
        if "maxItems" not in node:
            raise ValueError(f"{where}: arrays need maxItems")
        items = node.get("items", {})
        item = _max_bytes(items, root, f"{where}[]") if node["maxItems"] else 0
        return 2 + node["maxItems"] * item + max(node["maxItems"] - 1, 0)
    if kind == "string":
        return 2 + _MAX_BYTES_PER_CHAR * _max_string_chars(node, where)
    if kind in ("integer", "number"):
        if "minimum" not in node or "maximum" not in node:
            raise ValueError(f"{where}: numbers need minimum and maximum")
        digits = max(len(str(int(node["minimum"]))), len(str(int(node["maximum"]))))
        return digits + (1 + _NUMBER_FRACTION_DIGITS if kind == "number" else 0)
    if kind == "boolean":
        return len("false")
    if kind == "null":
        return len("null")
    raise ValueError(f"{where}: give every value a type, an enum or a const")


def _max_string_chars(node: dict, where: str) -> int:
    if "pattern" not in node:
        raise ValueError(f"{where}: strings need a pattern of bounded width, e.g. ^[A-Za-z ]{{1,40}}$")
    # The longest match of the pattern, from Python's own regex parser (the stdlib has no
    # public API for it; xgrammar's pattern syntax is the same for these bounded forms).
    width = re._parser.parse(node["pattern"]).getwidth()[1]
    if width >= re._constants.MAXREPEAT:
        raise ValueError(f"{where}: the pattern {node['pattern']!r} allows any length")
    return width


def _resolve(ref: str, root: dict) -> dict:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, not {ref!r}")
    node = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _json_len(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=_SEPARATORS).encode("utf-8"))
