"""The words of a prompt: tokens and the colours they name (standard library and coloraide).

Colour names come from two data files: ``named_colors.json`` (the CSS/X11 table) and
``color_words.json`` (names artists use that CSS lacks, such as copper or terracotta, and
lightness words such as dark or pale).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# coloraide: a maintained colour-science library (OKLCh for lightness shifts).
from coloraide import Color

_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ColorWord:
    """A colour the prompt names: the words as written and the sRGB hex they mean."""

    words: str
    hex: str


def load_json(name: str) -> dict:
    """One of this package's data files."""
    with open(_HERE / name, encoding="utf-8") as handle:
        return json.load(handle)


@cache
def named_colors() -> dict[str, str]:
    """Colour name -> sRGB hex: the CSS table completed by the extra colour words."""
    table = dict(load_json("named_colors.json")["colors"])
    table.update(load_json("color_words.json")["extra_colors"])
    return table


@cache
def _lightness_modifiers() -> dict[str, float]:
    return load_json("color_words.json")["lightness_modifiers"]


def tokens(prompt: str) -> list[str]:
    """Lower-case words of the prompt, without punctuation."""
    return re.findall(r"[a-z]+", prompt.lower())


def singular(word: str) -> str:
    """A plain English singular, enough for material words (bricks, tiles, planks)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def find_colors(prompt: str) -> list[ColorWord]:
    """The colours the prompt names, in order; 'dark blue' becomes CSS darkblue, and a
    lightness word before a colour with no such name shifts its OKLCh lightness."""
    table = named_colors()
    modifiers = _lightness_modifiers()
    words = tokens(prompt)
    found: list[ColorWord] = []
    i = 0
    while i < len(words):
        pair = "".join(words[i:i + 2]) if i + 1 < len(words) else ""
        if pair in table:
            found.append(ColorWord(" ".join(words[i:i + 2]), table[pair]))
            i += 2
            continue
        if words[i] in modifiers and i + 1 < len(words) and words[i + 1] in table:
            found.append(ColorWord(" ".join(words[i:i + 2]),
                                   shift_lightness(table[words[i + 1]], modifiers[words[i]])))
            i += 2
            continue
        if words[i] in table:
            found.append(ColorWord(words[i], table[words[i]]))
        i += 1
    return found


def shift_lightness(hex_color: str, delta: float) -> str:
    """The colour with its OKLCh lightness moved by ``delta`` (clamped, kept in sRGB gamut)."""
    color = Color(hex_color).convert("oklch")
    color["lightness"] = min(0.98, max(0.08, color["lightness"] + delta))
    return color.convert("srgb").fit("srgb").to_string(hex=True)
