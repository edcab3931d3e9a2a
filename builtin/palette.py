"""Colour schemes from the prompt's words: the built-in palette engine.

    make_palette(prompt, count=5, seed=None) -> (data, provenance)

Colours the prompt names come first (the CSS/X11 table and a few artists' names), then the
colour families of its mood words (``palette_moods.json``) and material words (the colours of
``texture_recipes.json``, tinted by the first colour word as the material's texture is); the
harmony rules of ``core.colors`` complete the scheme around the first colour. ``data`` is
the palette format every engine returns:
``{"title": str, "colors": [{"hex": "#rrggbb", "name": str, "role": str}]}``.
"""

from __future__ import annotations

import random
import re
from functools import cache

# coloraide: a maintained colour-science library (OKLab colour differences).
from coloraide import Color

from ..client.session import format_error
from ..core import colors as harmony
from ..core.errors import TaskError
from ..core.protocol import random_seed
from . import provenance, texture, words

DEFAULT_RULE = "analogous"  # for prompts that name colours but no mood
# A material's own colours are one family; more of its tones suit it better than new hues.
MATERIAL_RULE = "monochrome"
# Colours closer than this (deltaE OK) are one colour to the eye; a scheme keeps only one.
DISTINCT_DELTA_E = 0.05
_TITLE_LENGTH = 40
_NAME_LENGTH = 24


@cache
def moods() -> dict[str, dict]:
    """Mood id -> {words, colors (names), harmony}."""
    return words.load_json("palette_moods.json")["moods"]


def make_palette(prompt: str, count: int = 5, seed: int | None = None) -> tuple[dict, dict]:
    """A scheme of ``count`` colours for ``prompt`` and its provenance record (engine builtin).

    Raises ValueError saying what to change when ``count`` is out of range or the prompt names
    no colour, mood or material the engine knows."""
    try:
        harmony.check_count(count)
    except TaskError as exc:
        raise ValueError(format_error(exc.message, exc.hint)) from None
    if seed is None:
        seed = random_seed()
    rng = random.Random(seed)
    named = words.find_colors(prompt)
    used = {word for color in named for word in color.words.split()}
    families = _families([t for t in words.tokens(prompt) if t not in used], prompt)
    if not named and not families:
        raise ValueError(
            f"the prompt {prompt!r} names no colour, mood or material the built-in engine knows; "
            f"add one (for example 'calm ocean', 'red and gold', 'cyberpunk alley', 'marble')")
    if any(family in texture.recipes() for family, _, _ in families):
        # The first colour word tints the material ('red brick' is brick red, not #ff0000), as
        # in the texture the same prompt makes; the material's colours carry it.
        named = named[1:]
    candidates = [(color.hex, color.words) for color in named]
    rows = []
    for _, members, _ in families:
        # The family's most typical colour stays first; the seed varies which others join it.
        rest = members[1:]
        rng.shuffle(rest)
        rows.append([members[0], *rest])
    # Round robin, so every mood and material the prompt names gets into a short scheme.
    candidates += [row[i] for i in range(max(map(len, rows), default=0)) for row in rows if i < len(row)]
    rule = families[0][2] if families else DEFAULT_RULE
    picked = _complete(_distinct(candidates, count), rule, count)
    chosen = [Color(hex_color) for hex_color, _ in picked]
    roles = harmony.assign_roles(chosen, [float(count - i) for i in range(len(chosen))])
    data = {
        "title": _title(prompt),
        "colors": [{"hex": harmony.to_hex(color), "name": _name(name), "role": role}
                   for color, (_, name), role in zip(chosen, picked, roles, strict=True)],
    }
    record = provenance.record(
        "palette",
        parameters={"source": "prompt", "prompt": prompt, "count": count, "seed": seed,
                    "harmony": rule},
        template=[family for family, _, _ in families], seed=seed)
    return data, record


def _families(tokens: list[str], prompt: str) -> list[tuple[str, list[tuple[str, str]], str]]:
    """(id, [(hex, name)], harmony rule) for each mood and material the tokens name, in order;
    a material's colours are tinted by the prompt's colour word, as its texture is."""
    table = words.named_colors()
    mood_of = {word: mood for mood, spec in moods().items() for word in spec["words"]}
    material_of = texture.material_words()
    found, seen = [], set()
    for token in tokens:
        for word in (token, words.singular(token)):
            if word in mood_of and mood_of[word] not in seen:
                spec = moods()[mood_of[word]]
                members = [(table[name.replace(" ", "")], name) for name in spec["colors"]]
                found.append((mood_of[word], members, spec["harmony"]))
                seen.add(mood_of[word])
            elif word in material_of and material_of[word] not in seen:
                recipe = texture.recipes()[material_of[word]]
                members = [(hex_color, _material_color_name(recipe["label"], role))
                           for role, hex_color in texture.recipe_colors(recipe, prompt).items()]
                found.append((material_of[word], members, MATERIAL_RULE))
                seen.add(material_of[word])
            else:
                continue
            break
    return found


def _complete(picked: list[tuple[str, str]], rule: str, count: int) -> list[tuple[str, str]]:
    """Fill the scheme up to ``count`` with the harmony rule around the first colour; greys
    have no hues to harmonise, so lightness steps of the most colourful colour finish it."""
    by_chroma = sorted(picked, key=lambda item: -Color(item[0]).convert("oklch")["chroma"])
    for base, base_rule in ((picked[0][0], rule), (by_chroma[0][0], "monochrome")):
        if len(picked) == count:
            break
        completion = harmony.harmony_palette(base, base_rule, count)
        picked = _distinct(picked + [(c.hex, c.name) for c in completion], count)
    # Near-greys give few distinct steps; a fine ladder of the base's lightness always has room.
    ladder = Color(by_chroma[0][0]).convert("oklch")
    steps = []
    for tenth in range(4, 39):
        step = ladder.clone().set("lightness", tenth / 40)
        steps.append((harmony.to_hex(step), harmony.describe(step)))
    return _distinct(picked + steps, count)


def _material_color_name(label: str, role: str) -> str:
    """'Concrete' + 'concrete_dark' -> 'Concrete dark'; 'Brick' + 'mortar' -> 'Brick mortar'."""
    head, _, rest = role.partition("_")
    if head == label.split()[-1].lower():
        return f"{label} {rest}".strip()
    return f"{label} {role.replace('_', ' ')}"


def _distinct(candidates: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """The first ``count`` candidates that differ visibly from every one kept before them."""
    kept: list[tuple[str, str]] = []
    for hex_color, name in candidates:
        color = Color(hex_color)
        if all(color.delta_e(Color(other), method="ok") >= DISTINCT_DELTA_E for other, _ in kept):
            kept.append((hex_color, name))
        if len(kept) == count:
            break
    return kept


def _name(text: str) -> str:
    """A colour name the palette schema accepts: letters, digits, spaces, ' and -; 24 at most."""
    cleaned = re.sub(r"[^A-Za-z0-9 '-]+", " ", text).strip()
    cleaned = re.sub(r"\s+", " ", cleaned)[:_NAME_LENGTH].strip()
    return cleaned if cleaned[:1].isalpha() else f"colour {cleaned}".strip()[:_NAME_LENGTH]


def _title(prompt: str) -> str:
    """A title the palette schema accepts, from the prompt's own words."""
    cleaned = re.sub(r"[^A-Za-z0-9 ,'-]+", " ", prompt)
    cleaned = re.sub(r"\s+", " ", cleaned).strip().lstrip("0123456789 ,'-")
    title = cleaned[:_TITLE_LENGTH].strip()
    return title[:1].upper() + title[1:] if title else "Built-in palette"
