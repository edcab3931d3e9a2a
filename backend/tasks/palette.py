"""The ``palette`` task: a colour scheme from a prompt, a generated image, an image or a colour.

Sources (``request.source``):

- ``prompt``: the text model (``request.model``; empty = ``ATELIER_TEXT_MODEL``, else
  ``core.families.DEFAULT_TEXT_MODEL``) writes a document of ``schemas/palette.json`` under
  schema-constrained decoding, with the colour count fixed to ``request.count``. An answer
  that repeats a colour is completed, not refused: the repeats go and lighter or darker steps
  of the model's own colours fill the scheme up (``complete_scheme``; the record's
  ``colors_added`` says how many), and without a primary the first colour becomes it.
  Progress counts the colours written (``colours_written``), not tokens: the token budget is
  only an upper bound.
- ``prompt_image``: the texture model (``request.model``, empty = the texture default)
  paints a small image of the prompt in the job's folder and its dominant colours are taken;
  the image is deleted then (it is a means, not a result).
- ``image``: the dominant colours of the image file ``request.image``.
- ``harmony``: ``request.harmony`` rule around ``request.base_color`` (``#rrggbb``).

From an image (either kind) the scheme has ``request.count`` colours even when the image holds
fewer: lightness steps of its colours fill it up, and the record says how many are which
(``colors_from_image``, ``colors_added``). Sampling sources (``prompt``, ``prompt_image``)
without a seed get a fresh one, recorded in the parameters, so any scheme can be made again.

The result's ``data`` is ``{"title": str, "colors": [{"hex", "name", "role"}]}``, hex being
display sRGB; ``metadata`` is the provenance record.
"""

from __future__ import annotations

import re
from pathlib import Path

from core import colors, limits, protocol
from core import schema as json_schema
from core.errors import TaskError

from .. import palette_image
from ..task_context import JobContext, TaskOutput

SCHEMA_FILE = "palette.json"
# Colours closer than this (deltaE OK) count as the same colour in an answer.
DISTINCT_DELTA_E = 0.02
# Side of the image the texture model paints for ``prompt_image``: colours, not detail.
PROMPT_IMAGE_SIZE = 256
# Sources whose result depends on a seed: the job draws one when the request has none.
SEEDED_SOURCES = ("prompt", "prompt_image")

SYSTEM_PROMPT = (
    "You are a colour designer for 3D scenes. Answer with one JSON document: a short title "
    "and a list of colours, each with a hex value (#rrggbb, display sRGB), a short name and "
    "a role. Roles: "
    + ", ".join(f"{role} ({detail.meaning})" for role, detail in colors.ROLE_DETAILS.items())
    + ". Every colour must be clearly different from the others, and exactly one colour should "
    "be the primary."
)


def run(request: protocol.PaletteRequest, job: JobContext) -> TaskOutput:
    """Make the palette ``request`` asks for (see the module docstring)."""
    colors.check_count(request.count)
    handlers = {"prompt": _from_prompt, "prompt_image": _from_prompt_image,
                "image": _from_image, "harmony": _from_harmony}
    if request.source not in handlers:
        raise TaskError("bad_request", f"unknown palette source {request.source!r}",
                        hint=f"use one of {', '.join(protocol.PALETTE_SOURCES)}")
    job.progress(0, 1, "starting")
    data, engine, model, extra = handlers[request.source](request, job)
    parameters = {"source": request.source, "prompt": request.prompt, "image": request.image,
                  "count": request.count, "harmony": request.harmony,
                  "base_color": request.base_color,
                  "seed": job.seed if request.source in SEEDED_SOURCES else request.seed}
    job.progress(1, 1, "done")
    return TaskOutput(files=[], metadata=job.provenance(engine, model, parameters, **extra), data=data)


# --------------------------------------------------------------------------- sources


def _from_prompt(request, job):
    from ..structured import generate_json
    from ..text_model import load_text_model

    prompt = _required_prompt(request)
    job.progress(0, 1, "loading the text model")
    lm = load_text_model(job, request.model)
    answer = generate_json(
        job, lm,
        schema=schema_for(request.count),
        messages=[{"role": "system", "content": SYSTEM_PROMPT},
                  {"role": "user", "content": f"A colour scheme of {request.count} colours for: {prompt}"}],
        seed=job.seed,
        stage="writing the palette",
        progress_of=colours_written(request.count),
    )
    document, added = complete_scheme(answer.document, request.count)
    return document, "transformers", lm.name, {"attempts": answer.attempts, "tokens": answer.tokens,
                                                "colors_added": added}


def _from_prompt_image(request, job):
    from . import texture

    prompt = _required_prompt(request)
    texture_request = protocol.TextureRequest(
        id=request.id, prompt=prompt, output_dir=request.output_dir, width=PROMPT_IMAGE_SIZE,
        height=PROMPT_IMAGE_SIZE, seed=job.seed, model=request.model, device=request.device,
        allow_network=request.allow_network,
    )
    painted = texture.run(texture_request, job)
    image = Path(next(f.path for f in painted.files if f.role == "base_color"))
    try:
        job.check_cancelled()
        found = palette_image.extract_palette(image, request.count)
    finally:
        # Only its colours were wanted; left behind, every such palette would leave an image.
        job.discard(image)
    texture_record = painted.metadata
    return (_document(prompt, found), texture_record.get("engine", "diffusers"),
            texture_record.get("model", request.model), {"texture": texture_record, **_origins(found)})


def _from_image(request, job):
    if not request.image.strip():
        raise TaskError("bad_request", "no image was given", hint="give the path of an image file")
    found = palette_image.extract_palette(request.image, request.count)
    return _document(Path(request.image).stem, found), "colors.extract", "", _origins(found)


def _origins(found: list) -> dict:
    """How many colours the image gave, and how many lightness steps of them were added to reach
    the count (``extract_palette`` gives those weight 0: they cover none of the image)."""
    from_image = sum(1 for color in found if color.weight > 0)
    return {"colors_from_image": from_image, "colors_added": len(found) - from_image}


def _from_harmony(request, job):
    if not request.base_color:
        raise TaskError("bad_request", "no base colour was given", hint="give base_color as #rrggbb")
    return colors.harmony_scheme(request.base_color, request.harmony, request.count), "colors.harmony", "", {}


def _required_prompt(request) -> str:
    prompt = request.prompt.strip()
    if not prompt:
        raise TaskError("bad_request", "the prompt is empty",
                        hint="describe the mood or subject, e.g. 'a rainy neon alley'")
    if limits.prompt_length_problem(prompt):
        raise TaskError("bad_request", limits.prompt_length_problem(prompt),
                        hint="the text model reads no more than that")
    return prompt


def _document(title: str, found: list) -> dict:
    return {"title": _title(title), "colors": [c.to_dict() for c in found]}


def _title(text: str) -> str:
    """``text`` reduced to what the schema allows in a title (as a model's title would be)."""
    words = re.sub(r"[^A-Za-z0-9 ,'-]+", " ", text).split()
    title = " ".join(words).lstrip("0123456789 ,'-") or "Palette"
    return title[:40].rstrip()


def colours_written(count: int):
    """Progress of an answer being written: ``(colours complete, count)``.

    The grammar fixes the count, and no string the schema allows holds a ``}``, so each ``}``
    closes one colour (the last closes the document, hence the cap).
    """
    return lambda text: (min(text.count("}"), count), count)


# --------------------------------------------------------------------------- checks


def schema_for(count: int) -> dict:
    """``core/schemas/palette.json`` with exactly ``count`` colours, so the grammar fixes the count."""
    schema = json_schema.load(SCHEMA_FILE)
    schema["properties"]["colors"]["minItems"] = count
    schema["properties"]["colors"]["maxItems"] = count
    return schema


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
