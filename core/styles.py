"""Prompt styles: words added to the artist's prompt and negative prompt, plus default settings.

A style's ``prompt`` is a template holding ``{prompt}`` where the artist's prompt goes; its
``negative_prompt`` is added after the artist's. Its ``defaults`` (``steps``, ``guidance``,
``strength``, ``seamless``) apply only where the caller did not pass that argument.

Artists add or override styles in ``styles.json`` in Atelier's user folder: one JSON object
mapping style names to entries (every field but ``prompt`` optional)::

    {"rusty-sci-fi": {"label": "Rusty Sci-Fi", "description": "Worn metal panels",
                      "prompt": "{prompt}, worn sci-fi panels, rust streaks",
                      "negative_prompt": "clean, new", "defaults": {"steps": 30}}}

A user style with a built-in style's name replaces the built-in one. The file is checked as a
whole with the JSON-schema subset in ``schema``; any problem refuses it with a ``StyleError``
naming the file, the entry and the fix, so a typo never silently drops a style.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from . import limits
from . import schema as json_schema
from .protocol import SEAMLESS_MODES

PLACEHOLDER = "{prompt}"
USER_FILE_NAME = "styles.json"
MAX_NAME_CHARS = 40
MAX_LABEL_CHARS = 40
MAX_DESCRIPTION_CHARS = 200
# A template or negative text this long still leaves room for the artist's words within
# limits.MAX_PROMPT_CHARS; ``expand`` checks the sum.
MAX_STYLE_TEXT_CHARS = 600
MAX_USER_STYLES = 100
MAX_FILE_BYTES = 100_000
# Lower-case words joined by hyphens: the same name in every script, panel and file.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")
DEFAULT_KEYS = ("steps", "guidance", "strength", "seamless")
_EXAMPLE = '{"my-style": {"prompt": "{prompt}, oil painting", "negative_prompt": "photo"}}'


class StyleError(ValueError):
    """A style cannot be used: unknown, or its file is broken. The message says the fix."""


@dataclass(frozen=True)
class Style:
    """One prompt style. ``prompt`` holds ``{prompt}``; ``defaults`` maps some of
    ``DEFAULT_KEYS`` to values (``seamless`` as one of ``protocol.SEAMLESS_MODES``)."""

    name: str
    label: str
    description: str
    prompt: str
    negative_prompt: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))


def _builtin(*styles: Style) -> dict[str, Style]:
    return {style.name: style for style in styles}


# The artist's words come first: a model weighs the start of the prompt most. No material or
# colour words here, so the built-in engine (which reads those) still follows the artist's.
BUILTIN_STYLES: dict[str, Style] = _builtin(
    Style("scanned-photo", "Scanned Photo", "Photographic surface scan: real-world detail, sharp focus",
          "{prompt}, photographic texture scan, photogrammetry, high detail, sharp focus, "
          "realistic surface, top-down view",
          "painting, illustration, cartoon, drawing, blurry, text, watermark, logo, frame, perspective"),
    Style("hand-painted", "Hand-Painted", "Painterly texture with visible brush strokes",
          "{prompt}, hand-painted texture, painterly brush strokes, stylised, soft colour variation, "
          "top-down view",
          "photo, photorealistic, noise, film grain, blurry, text, watermark, logo, frame"),
    Style("stylised-game-art", "Stylised Game Art", "Clean, readable shapes for stylised games",
          "{prompt}, stylised game art texture, clean shapes, bold readable forms, simple shading, "
          "top-down view",
          "photo, photorealistic, noisy, grainy, blurry, cluttered, text, watermark, logo"),
    Style("evenly-lit-albedo", "Evenly Lit Albedo",
          "Base colour only: flat even light, no shadows or highlights; tiles both ways",
          "{prompt}, albedo texture, flat even lighting, diffuse colour only, no shadows, "
          "no highlights, top-down orthographic view",
          "shadows, cast shadows, ambient occlusion, specular highlights, reflections, glare, "
          "vignette, lighting gradient, perspective, text, watermark",
          {"seamless": "xy"}),
    Style("watercolour", "Watercolour", "Soft washes and pigment blooms; restyles more strongly",
          "{prompt}, watercolour painting, soft washes, pigment blooms, wet edges, granulation",
          "photo, photorealistic, 3d render, hard edges, sharp digital lines, text, watermark",
          {"strength": 0.6}),
)


# --------------------------------------------------------------------------- names


def style_key(name: str) -> str:
    """The library key a typed name means: case, spaces and underscores do not matter
    ('Hand Painted' -> 'hand-painted')."""
    return "-".join(name.strip().lower().replace("_", " ").split())


def find(styles: Mapping[str, Style], name: str) -> Style | None:
    """The style ``name`` names (None for an empty name); ``StyleError`` for an unknown one."""
    key = style_key(name)
    if not key:
        return None
    if key not in styles:
        raise StyleError(f"unknown style {name.strip()!r}; use one of {', '.join(sorted(styles))}, "
                         f"or add it to {USER_FILE_NAME} in Atelier's user folder")
    return styles[key]


# --------------------------------------------------------------------------- expanding


def expand(style: Style, prompt: str, negative: str) -> tuple[str, str]:
    """The prompt and negative prompt ``style`` makes of the artist's.

    ``{prompt}`` is replaced by the artist's text in one pass (never ``str.format``: braces
    in either text stay as written); the style's negative text goes after the artist's. An
    empty prompt leaves the style's words alone. ``StyleError`` when either result is longer
    than ``limits.MAX_PROMPT_CHARS``.
    """
    prompt, negative = prompt.strip(), negative.strip()
    expanded = style.prompt.replace(PLACEHOLDER, prompt)
    if not prompt:  # no ", " left dangling where the artist's words would be
        expanded = " ".join(expanded.split()).strip(" ,;")
    expanded_negative = ", ".join(text for text in (negative, style.negative_prompt.strip()) if text)
    for what, text, own in (("prompt", expanded, prompt), ("negative prompt", expanded_negative, negative)):
        if len(text) > limits.MAX_PROMPT_CHARS:
            room = max(0, limits.MAX_PROMPT_CHARS - (len(text) - len(own)))
            raise StyleError(f"the {what} with style {style.name!r} has {len(text)} characters, more "
                             f"than {limits.MAX_PROMPT_CHARS}; shorten your {what} to {room} characters "
                             "or choose a shorter style")
    return expanded, expanded_negative


# --------------------------------------------------------------------------- the user's file


def entry_schema() -> dict:
    """The JSON schema (``schema`` subset) one entry of ``styles.json`` must meet."""
    text = {"type": "string", "maxLength": MAX_STYLE_TEXT_CHARS}
    return {
        "type": "object",
        "properties": {
            "label": {"type": "string", "maxLength": MAX_LABEL_CHARS},
            "description": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS},
            "prompt": text,  # holding PLACEHOLDER: checked apart, with a sentence that shows how
            "negative_prompt": text,
            "defaults": {
                "type": "object",
                "properties": {
                    "steps": {"type": "integer", "minimum": 1, "maximum": limits.DEFAULT_MAX_STEPS},
                    "guidance": {"type": "number", "minimum": 0, "maximum": 30},
                    "strength": {"type": "number", "minimum": 0.01, "maximum": 1},
                    "seamless": {"enum": list(SEAMLESS_MODES)},
                },
                "additionalProperties": False,
            },
        },
        "required": ["prompt"],
        "additionalProperties": False,
    }


def load_styles(user_file: Path | None) -> dict[str, Style]:
    """The built-in styles plus those in ``user_file`` (a missing file or None: built-in only).

    A user style replaces a built-in style of the same name. Raises ``StyleError`` naming the
    file, the entry and the fix for a file that cannot be read or breaks any rule.
    """
    styles = dict(BUILTIN_STYLES)
    if user_file is None or not Path(user_file).exists():
        return styles
    styles.update(read_user_styles(Path(user_file)))
    return styles


def read_user_styles(path: Path) -> dict[str, Style]:
    """The styles ``path`` defines; ``StyleError`` (naming the file) on any problem."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _file_error(path, [f"it is {size} bytes; a styles file may have at most "
                                     f"{MAX_FILE_BYTES} (about {MAX_USER_STYLES} styles)"])
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StyleError(f"cannot read the styles file {path}: {exc.strerror or exc}; make it a "
                         "readable file or remove it") from None
    except UnicodeDecodeError:
        raise _file_error(path, ["it is not UTF-8 text; save it as UTF-8"]) from None
    try:
        document = json_schema.parse_json(text)
    except json_schema.DocumentError as exc:
        raise _file_error(path, exc.problems) from None
    problems = document_problems(document)
    if problems:
        raise _file_error(path, problems)
    return {name: _style(name, entry) for name, entry in document.items()}


def document_problems(document: Any) -> list[str]:
    """Every way a parsed ``styles.json`` breaks the rules, one sentence each naming the entry."""
    if not isinstance(document, dict):
        return [f"it must hold one JSON object mapping style names to styles, e.g. {_EXAMPLE}"]
    if len(document) > MAX_USER_STYLES:
        return [f"it defines {len(document)} styles; at most {MAX_USER_STYLES} are allowed"]
    problems = []
    for name in document:
        if len(name) > MAX_NAME_CHARS or not NAME_PATTERN.fullmatch(name):
            problems.append(f"style name {json_schema.short(name)} is not allowed; use lower-case "
                            f"letters, digits and hyphens, at most {MAX_NAME_CHARS} characters "
                            f"(e.g. {style_key(name)[:MAX_NAME_CHARS] or 'my-style'!r})")
    # One schema for the whole file, so each problem is named by its entry ('watercolour.prompt').
    entry = entry_schema()
    whole = {"type": "object", "properties": dict.fromkeys(document, {"$ref": "#/$defs/style"}),
             "$defs": {"style": entry}}
    problems += json_schema.problems(document, whole)
    for name, value in document.items():
        template = value.get("prompt") if isinstance(value, dict) else None
        if isinstance(template, str) and PLACEHOLDER not in template:
            problems.append(f"{name}.prompt has no {PLACEHOLDER}; put {PLACEHOLDER} where the artist's "
                            f"prompt goes, e.g. \"{PLACEHOLDER}, oil painting\"")
    return json_schema.capped(problems)


def _style(name: str, entry: dict) -> Style:
    label = entry.get("label") or name.replace("-", " ").title()
    # JSON's 30.0 is a whole number to the schema; the operators' fields want int and float.
    kinds = {"steps": int, "guidance": float, "strength": float, "seamless": str}
    defaults = {key: kinds[key](value) for key, value in entry.get("defaults", {}).items()}
    return Style(name, label, entry.get("description", ""), entry["prompt"],
                 entry.get("negative_prompt", ""), defaults)


def _file_error(path: Path, problems: list[str]) -> StyleError:
    return StyleError(f"the styles file {path} cannot be used: {'; '.join(problems)}. Fix it, or "
                      "rename it to use the built-in styles only")
