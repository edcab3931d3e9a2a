"""The ``ideas`` task: a prompt (and what the artist has selected) becomes 1 to 5 scene ideas.

Ideas are data, never code: the text model writes JSON under the grammar of
``schemas/scene_idea.json`` (xgrammar, through ``structured.generate_json``), the answer is
sanitised and checked by ``core.ideas`` (the same rules Blender uses), and what Atelier can
fix itself is fixed (``core.idea_repair``: the camera, light power, sizes, strays, copies).
Only what remains (objects in one lump) goes back to the model for one more try with the
problems spelled out; if the second answer still has them, the better answer is kept and the
problems are reported. Only an answer that is no valid idea at all is an error.
"""

from __future__ import annotations

from core import idea_repair
from core import ideas as idea_rules
from core import schema as json_schema
from core.errors import TaskError
from core.protocol import IdeasRequest

from ..task_context import JobContext, TaskOutput

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


def run(request: IdeasRequest, job: JobContext) -> TaskOutput:
    """Suggest ``request.count`` ideas for ``request.prompt``; ``data`` is
    ``{"ideas": [...], "repairs": [...]}``, a sentence per cleaned field, repair or problem left."""
    from ..structured import generate_json
    from ..text_model import load_text_model

    problems = idea_rules.request_problems(request.prompt, request.count)
    if problems:
        raise TaskError("bad_request", "; ".join(problems),
                        hint=f"send a non-empty prompt and a count from {idea_rules.MIN_IDEAS} "
                             f"to {idea_rules.MAX_IDEAS}")
    context = describe_context(request.context)
    job.progress(0, 1, "loading the text model")
    lm = load_text_model(job, request.model)
    job.check_cancelled()
    answer = generate_json(
        job, lm,
        schema=generation_schema(request.count),
        messages=messages(request.prompt, request.count, context),
        check=lambda document: document_problems(document, request.count),
        seed=job.seed,
        stage="writing ideas",
        progress_of=sections_written(request.count),
    )
    ideas, repairs = repaired_ideas(answer.document, request.count)
    repairs += [f"not fixed by the second try: {problem}" for problem in answer.problems]
    parameters = {"prompt": request.prompt, "count": request.count, "context": request.context,
                  "seed": job.seed}
    metadata = job.provenance("transformers", lm.name, parameters, attempts=answer.attempts,
                              tokens=answer.tokens, schema_version=idea_rules.SCHEMA_VERSION)
    return TaskOutput(files=[], metadata=metadata, data={"ideas": ideas, "repairs": repairs})


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
    ideas, cleaned = idea_rules.check_ideas_document(document, count)
    repaired, repairs = [], list(cleaned)
    for number, idea in enumerate(ideas, start=1):
        idea, made = idea_repair.repair_idea(idea)
        repaired.append(idea)
        repairs += [f"idea {number}: {repair}" for repair in made]
    return repaired, repairs


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
