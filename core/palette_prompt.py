"""Asking a text model for a colour scheme: what any engine sends and how it reads the answer.

The backend's transformers model (``backend/tasks/palette.py``) and an OpenAI-compatible text
server (``client/text_server.py``) ask the same way and read the answer by the same rules: the
system prompt, the chat (``messages``), the document schema with the colour count fixed
(``schema_for``), progress by colours written (``colours_written``), and the completion of an
answer that repeats a colour (``complete_scheme``).
"""

from __future__ import annotations

from . import colors, limits
from . import schema as json_schema
from .errors import TaskError

SCHEMA_FILE = "palette.json"
# Colours closer than this (deltaE OK) count as the same colour in an answer.
DISTINCT_DELTA_E = 0.02

SYSTEM_PROMPT = (
    "You are a colour designer for 3D scenes. Answer with one JSON document: a short title "
    "and a list of colours, each with a hex value (#rrggbb, display sRGB), a short name and "
    "a role. Roles: "
    + ", ".join(f"{role} ({detail.meaning})" for role, detail in colors.ROLE_DETAILS.items())
    + ". Every colour must be clearly different from the others, and exactly one colour should "
    "be the primary."
)


def checked_prompt(prompt: str) -> str:
    """``prompt`` stripped, or a ``bad_request`` saying why the text model cannot take it."""
    prompt = prompt.strip()
    if not prompt:
        raise TaskError("bad_request", "the prompt is empty",
                        hint="describe the mood or subject, e.g. 'a rainy neon alley'")
    if limits.prompt_length_problem(prompt):
        raise TaskError("bad_request", limits.prompt_length_problem(prompt),
                        hint="the text model reads no more than that")
    return prompt


def messages(prompt: str, count: int) -> list[dict]:
    """The chat sent to the model: the rules, then the artist's prompt and the colour count."""
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"A colour scheme of {count} colours for: {prompt}"}]


def schema_for(count: int) -> dict:
    """``core/schemas/palette.json`` with exactly ``count`` colours, so the grammar fixes the count."""
    schema = json_schema.load(SCHEMA_FILE)
    schema["properties"]["colors"]["minItems"] = count
    schema["properties"]["colors"]["maxItems"] = count
    return schema


def colours_written(count: int):
    """Progress of an answer being written: ``(colours complete, count)``.

    The grammar fixes the count, and no string the schema allows holds a ``}``, so each ``}``
    closes one colour (the last closes the document, hence the cap).
    """
    return lambda text: (min(text.count("}"), count), count)


def complete_scheme(document: dict, count: int) -> tuple[dict, int]:
    """A schema-valid scheme with ``count`` clearly different colours and a primary, and how
    many colours were added to it.

    Of colours that look the same (``DISTINCT_DELTA_E``) the first stays; lighter and darker
    steps of the colours kept (``core.colors.steps_by_hue``, as for an image with few colours)
    fill the places freed. An added colour is a ``highlight`` when lighter than the colour it
    comes from, else a ``shadow``. Without a primary the first colour becomes it.
    """
    from coloraide import Color

    kept = []
    for entry in document["colors"]:
        if _distinct(Color(entry["hex"]), [Color(other["hex"]) for other in kept]):
            kept.append(dict(entry))
    if not any(entry["role"] == "primary" for entry in kept):
        kept[0]["role"] = "primary"
    given = [Color(entry["hex"]) for entry in kept]
    added = []
    # More steps per hue until enough are clearly different (8-bit rounding folds some dark ones).
    for steps in range(count, 4 * count + 1):
        added = []
        for step in colors.steps_by_hue(given, steps):
            if len(kept) + len(added) < count and _distinct(step, given + added):
                added.append(step)
        if len(kept) + len(added) == count:
            break
    for step in added:
        source = min(given, key=lambda color: step.delta_e(color, method="ok"))
        lighter = step.convert("oklch")["lightness"] > source.convert("oklch")["lightness"]
        kept.append({"hex": colors.to_hex(step), "name": colors.describe(step),
                     "role": "highlight" if lighter else "shadow"})
    return {"title": document["title"], "colors": kept}, len(added)


def _distinct(color, others: list) -> bool:
    return all(color.delta_e(other, method="ok") >= DISTINCT_DELTA_E for other in others)
