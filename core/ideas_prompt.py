"""Asking a text model for scene ideas: what any engine sends and how it reads the answer.

The backend's transformers model (``backend/tasks/ideas.py``) and an OpenAI-compatible text
server (``client/text_server.py``) ask the same way and read the answer by the same rules: the
system prompt and the chat with the artist's scene (``messages``, ``describe_context``), the
document schema for ``count`` ideas (``generation_schema``), the checks a retry quotes back to
the model (``document_problems``), Atelier's own repairs (``repaired_ideas``) and progress by
sections written (``sections_written``).
"""

from __future__ import annotations

import math
import sys

from . import idea_repair
from . import ideas as idea_rules
from . import schema as json_schema
from .errors import TaskError

SYSTEM_PROMPT = (
    "You design scenes that Blender turns into block-outs. Answer with one JSON document "
    '{{"ideas": [...]}} holding exactly {count} idea(s) and nothing else. Units: metres, Z is up, '
    "the floor is at z = 0, rotations are XYZ Euler angles in degrees, colours are sRGB #rrggbb. "
    "Every primitive is one metre across, so an object's scale is its size in metres along X, Y "
    "and Z. Spread the objects out so they do not overlap; keep the camera outside every object "
    "and set camera.target to the middle of the layout. Light energy is in watts, except a sun's, "
    "which is W/m2 (daylight is about 1 to 10). Titles and names are plain words without slashes, "
    "backslashes, quotes or colons. Each pitch is one paragraph."
)


def messages(prompt: str, count: int, context: str) -> list[dict]:
    """The chat sent to the model: the rules, then the artist's brief and scene context."""
    user = f"Brief: {prompt.strip()}"
    if context:
        user += "\n" + context
    return [{"role": "system", "content": SYSTEM_PROMPT.format(count=count)},
            {"role": "user", "content": user}]


def repaired_ideas(document: dict, count: int) -> tuple[list[dict], list[str]]:
    """The document's ideas, cleaned and repaired, and a sentence per change ("idea 2: ...").

    Raises ``IdeaError`` when the document is no valid ideas document: nothing to build."""
    json_schema.check_nesting(document)  # the walk below is recursive: bounded depth first
    document, overflowed = _finite_numbers(document)
    ideas, cleaned = idea_rules.check_ideas_document(document, count)
    repaired, repairs = [], list(cleaned)
    if overflowed:
        repairs.insert(0, f"{overflowed} number(s) too large to hold (e.g. 75E855) were read as the "
                          "largest number, then clamped to their field's range")
    for number, idea in enumerate(ideas, start=1):
        idea, made = idea_repair.repair_idea(idea)
        repaired.append(idea)
        repairs += [f"idea {number}: {repair}" for repair in made]
    return repaired, repairs


def _finite_numbers(value):
    """``value`` with every infinite number made the largest finite one of its sign, and how
    many were. JSON has no infinity, but a number like 75E855 reads as one: a grammar that
    ignores the schema's bounds (llama.cpp's) lets a model write it, and the schema's clamping
    then brings it into range like any other number out of range."""
    if isinstance(value, float) and math.isinf(value):
        return math.copysign(sys.float_info.max, value), 1
    if isinstance(value, dict):
        pairs = [(key, *_finite_numbers(item)) for key, item in value.items()]
        return {key: item for key, item, _ in pairs}, sum(count for _, _, count in pairs)
    if isinstance(value, list):
        pairs = [_finite_numbers(item) for item in value]
        return [item for item, _ in pairs], sum(count for _, count in pairs)
    return value, 0


def answer_data(document: dict, count: int, problems_left: list[str]) -> dict:
    """The result's ``data`` for an answer: ``{"ideas": [...], "repairs": [...]}``, the ideas
    cleaned and repaired, and a sentence per change and per problem the second try left."""
    ideas, repairs = repaired_ideas(document, count)
    repairs += [f"not fixed by the second try: {problem}" for problem in problems_left]
    return {"ideas": ideas, "repairs": repairs}


def document_problems(document: dict, count: int) -> list[str]:
    """What is wrong with a generated document once Atelier's repairs are made, as sentences
    the model can act on: schema problems, and layout problems no repair fixes."""
    try:
        ideas, _ = repaired_ideas(document, count)
    except idea_rules.IdeaError as exc:
        return exc.problems
    problems = []
    for number, idea in enumerate(ideas, start=1):
        problems += [f"Idea {number}: {problem}." for problem in idea_rules.semantic_problems(idea)]
    return problems


def generation_schema(count: int) -> dict:
    """The document schema as the grammar compiler gets it.

    Every text field's pattern already bounds its length (``{1,60}``); xgrammar follows the
    pattern alone and warns about ``minLength``/``maxLength`` beside it, so those go.
    """
    schema = idea_rules.ideas_document_schema(count)
    for definition in schema["$defs"].values():
        if "pattern" in definition:
            definition.pop("minLength", None)
            definition.pop("maxLength", None)
    return schema


def sections_written(count: int):
    """Progress of an answer being written: ``(sections begun, sections of all ideas)``.

    The grammar writes each idea's sections (title, pitch, ..., notes) in the schema's order and
    once each; no nested object reuses those keys and no string may hold a quote, so each quoted
    key marks one section begun.
    """
    keys = [f'"{key}"' for key in idea_rules.load_schema()["properties"] if key != "schema_version"]
    total = len(keys) * count
    return lambda text: (min(sum(text.count(key) for key in keys), total), total)


def describe_context(context: dict) -> str:
    """The scene context as prompt text; ``context`` holds ``selected`` and ``palette``.

    ``selected``: ``[{"name": str, "dimensions": [x, y, z]}]`` (metres); ``palette``:
    ``["#rrggbb", ...]``. Names come from someone's scene, so they are cleaned like idea names.
    """
    unknown = sorted(set(context) - {"selected", "palette"})
    if unknown:
        raise TaskError("bad_request", f"unknown context field(s) {', '.join(unknown)}",
                        hint="context may hold 'selected' and 'palette'")
    lines = []
    definitions = idea_rules.load_schema()["$defs"]
    selected = context.get("selected", [])
    if not isinstance(selected, list):
        raise TaskError("bad_request", "context.selected must be a list of objects",
                        hint='send [{"name": "Chair", "dimensions": [0.5, 0.5, 0.9]}]')
    if selected:
        lines.append("Objects already in the scene (name: size in metres):")
        for index, item in enumerate(selected[:idea_rules.MAX_CONTEXT_OBJECTS]):
            name, size = _selected_object(item, index, definitions["name"])
            lines.append(f"- {name}: {size}")
    palette = context.get("palette", [])
    if not isinstance(palette, list) or idea_rules.schema_problems(
            palette[:idea_rules.MAX_CONTEXT_COLORS], {"type": "array", "items": definitions["color"]}):
        raise TaskError("bad_request", "context.palette must be a list of #rrggbb colours",
                        hint='send ["#1a2b3c", "#ffcc00"]')
    if palette:
        lines.append("Current palette: " + ", ".join(palette[:idea_rules.MAX_CONTEXT_COLORS]))
    return "\n".join(lines)


def _selected_object(item, index: int, name_schema: dict) -> tuple[str, str]:
    hint = 'send {"name": "Chair", "dimensions": [0.5, 0.5, 0.9]}'
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise TaskError("bad_request", f"context.selected[{index}] needs a text name", hint=hint)
    dimensions = item.get("dimensions")
    if (not isinstance(dimensions, list) or len(dimensions) != 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and json_schema.fits_double(v)
                       for v in dimensions)):
        raise TaskError("bad_request", f"context.selected[{index}].dimensions must be three finite numbers",
                        hint=hint)
    name = json_schema.clean_text(item["name"], name_schema) or f"object {index + 1}"
    return name, " x ".join(f"{v:.3g}" for v in dimensions)
