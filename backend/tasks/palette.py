"""The ``palette`` task: a colour scheme from a prompt, a generated image, an image or a colour.

Sources (``request.source``):

- ``prompt``: the text model (``request.model``; empty = ``ATELIER_TEXT_MODEL``, else
  ``core.families.DEFAULT_TEXT_MODEL``) writes a document of ``schemas/palette.json`` under
  schema-constrained decoding, with the colour count fixed to ``request.count``. An answer
  that repeats a colour is completed, not refused: the repeats go and lighter or darker steps
  of the model's own colours fill the scheme up (``core.palette_prompt.complete_scheme``; the
  record's ``colors_added`` says how many), and without a primary the first colour becomes it.
  Progress counts the colours written (``colours_written``), not tokens: the token budget is
  only an upper bound. The prompt, schema and completion live in ``core.palette_prompt``,
  shared with an OpenAI-compatible text server (``client/text_server.py``).
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

from core import colors, palette_prompt, protocol
from core.errors import TaskError

from .. import palette_image
from ..task_context import JobContext, TaskOutput

# Side of the image the texture model paints for ``prompt_image``: colours, not detail.
PROMPT_IMAGE_SIZE = 256
# Sources whose result depends on a seed: the job draws one when the request has none.
SEEDED_SOURCES = ("prompt", "prompt_image")


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
    parameters = {"source": request.source, "prompt": request.prompt, "style": request.style,
                  "image": request.image, "count": request.count, "harmony": request.harmony,
                  "base_color": request.base_color,
                  "seed": job.seed if request.source in SEEDED_SOURCES else request.seed}
    job.progress(1, 1, "done")
    return TaskOutput(files=[], metadata=job.provenance(engine, model, parameters, **extra), data=data)


# --------------------------------------------------------------------------- sources


def _from_prompt(request, job):
    from ..structured import generate_json
    from ..text_model import load_text_model

    prompt = palette_prompt.checked_prompt(request.prompt)
    job.progress(0, 1, "loading the text model")
    lm = load_text_model(job, request.model)
    answer = generate_json(
        job, lm,
        schema=palette_prompt.schema_for(request.count),
        messages=palette_prompt.messages(prompt, request.count),
        seed=job.seed,
        stage="writing the palette",
        progress_of=palette_prompt.colours_written(request.count),
    )
    document, added = palette_prompt.complete_scheme(answer.document, request.count)
    return document, "transformers", lm.name, {"attempts": answer.attempts, "tokens": answer.tokens,
                                                "colors_added": added}


def _from_prompt_image(request, job):
    from . import texture

    prompt = palette_prompt.checked_prompt(request.prompt)
    texture_request = protocol.TextureRequest(
        id=request.id, prompt=prompt, negative_prompt=request.negative_prompt, style=request.style,
        output_dir=request.output_dir, width=PROMPT_IMAGE_SIZE,
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


def _document(title: str, found: list) -> dict:
    return {"title": _title(title), "colors": [c.to_dict() for c in found]}


def _title(text: str) -> str:
    """``text`` reduced to what the schema allows in a title (as a model's title would be)."""
    words = re.sub(r"[^A-Za-z0-9 ,'-]+", " ", text).split()
    title = " ".join(words).lstrip("0123456789 ,'-") or "Palette"
    return title[:40].rstrip()
