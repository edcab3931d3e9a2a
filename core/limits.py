"""Limits on what one request may ask for.

Sizes and steps are set per machine: ``ATELIER_MAX_SIZE`` (pixels per side, default 2048) and
``ATELIER_MAX_STEPS`` (default 150) override the defaults; ``serve --max-size/--max-steps`` set
them for one server. ``ATELIER_MAX_UPSCALE_SIZE`` (default 4096) caps the side of an upscaled
image, which is made tile by tile and so may be larger than one generation.
``ATELIER_MAX_PROJECT_FACES`` (default 1,000,000) caps the faces of the meshes one projection
paints (modifiers applied): Blender refuses more before it renders anything. The prompt cap
holds for every prompt and negative prompt of every request, and Blender refuses a longer one
before anything is sent (``client.session.submit``), so every request kind has the same rule:
the palette and idea tasks refuse more, and the texture models' text encoders read far less (77
CLIP tokens, a few hundred T5 ones), so a longer prompt only hides what is never read.
"""

from __future__ import annotations

import os

from .protocol import MAX_LINE_BYTES, Request

DEFAULT_MAX_SIZE = 2048
DEFAULT_MAX_STEPS = 150
DEFAULT_MAX_UPSCALE_SIZE = 4096
DEFAULT_MAX_PROJECT_FACES = 1_000_000
MIN_SIZE = 64
# The most characters of a prompt a text model reads (palettes and scene ideas alike), and of
# each prompt and negative prompt of every other request (textures and image edits).
MAX_PROMPT_CHARS = 1000
# The request fields that hold a prompt (``core.protocol``: texture, image edits, palette, ideas),
# and how a message names each. An idea request's ``context`` is scene data, not a prompt.
PROMPT_FIELDS = {"prompt": "prompt", "negative_prompt": "negative prompt"}
# Over HTTP (PROTOCOL.md, "Over HTTP"): the server refuses more and the client sends and reads no
# more. The request part and each event line are one protocol line.
HTTP_MAX_REQUEST_PART_BYTES = MAX_LINE_BYTES
HTTP_MAX_EVENT_LINE_BYTES = MAX_LINE_BYTES
HTTP_MAX_FILE_BYTES = 64 * 2**20  # one uploaded input file or one downloaded result file
HTTP_MAX_UPLOAD_BYTES = 200 * 2**20  # one job's whole upload: the request and all its files


def max_size() -> int:
    """Largest width or height a texture may have."""
    return _positive_int("ATELIER_MAX_SIZE", DEFAULT_MAX_SIZE)


def max_steps() -> int:
    """Most denoising steps a texture job may run."""
    return _positive_int("ATELIER_MAX_STEPS", DEFAULT_MAX_STEPS)


def max_upscale_size() -> int:
    """Largest width or height an upscaled image may have."""
    return _positive_int("ATELIER_MAX_UPSCALE_SIZE", DEFAULT_MAX_UPSCALE_SIZE)


def max_project_faces() -> int:
    """Most faces (all meshes together, modifiers applied) one projection may paint."""
    return _positive_int("ATELIER_MAX_PROJECT_FACES", DEFAULT_MAX_PROJECT_FACES)


def prompt_length_problem(prompt: str, what: str = "prompt") -> str:
    """What to change when ``prompt`` (the ``what``: "prompt", "negative prompt") is longer than a
    text model reads; "" when it is not."""
    if len(prompt) > MAX_PROMPT_CHARS:
        return f"the {what} has {len(prompt)} characters; shorten it to {MAX_PROMPT_CHARS}"
    return ""


def request_prompts_problem(request: Request) -> str:
    """What to change when a prompt a request carries (``PROMPT_FIELDS``, whichever of them its
    type has) is over the cap; "" when none is. Every request passes here before it is sent."""
    for name, what in PROMPT_FIELDS.items():
        problem = prompt_length_problem(getattr(request, name, ""), what)
        if problem:
            return problem
    return ""


def as_dict() -> dict:
    """The limits as the ``hello`` event reports them."""
    return {"max_size": max_size(), "max_steps": max_steps(), "min_size": MIN_SIZE,
            "max_upscale_size": max_upscale_size()}


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return default
