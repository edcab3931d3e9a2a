"""Colour schemes: harmony rules, roles, names and hex colours, shared by Blender and the backend.

Image extraction (k-means over an image's pixels) lives in the backend (``palette_image``);
everything both processes need to agree on lives here.

Colour science comes from coloraide (maintained, pure Python, exact CSS Color 4 spaces):
conversions, OKLCh harmonies, sRGB gamut mapping and colour differences. Hex strings are
display sRGB colours, as everywhere in Atelier.

- ``harmony_palette(base_hex, rule, count)``: the rule's hues around the base colour in
  OKLCh (a perceptual hue space, so "opposite" looks opposite), extended to ``count`` colours
  with lighter and darker steps of the same hues. ``harmony_scheme`` is the checked,
  user-facing form (exactly ``count`` colours or an error saying what to change).
- ``assign_roles(colors, weights)``: one deterministic rule for roles (below).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TaskError
from .schema import short  # a value echoed in a message: at most 40 characters


@dataclass(frozen=True)
class Role:
    """What a palette role is for (the text model's instructions and Blender's role menu say
    this) and where it comes when a palette is applied (0 first: the subject's colours)."""

    meaning: str
    apply_rank: int


# The one list of roles: schemas/palette.json repeats it as an enum (a test ties the two), and
# Blender's stored role menus keep this order.
ROLE_DETAILS = {
    "background": Role("large surfaces behind everything", 3),
    "primary": Role("the main colour of the subject", 0),
    "secondary": Role("supporting surfaces", 1),
    "accent": Role("small, striking details", 2),
    "highlight": Role("the lightest tones", 4),
    "shadow": Role("the darkest tones", 5),
}
ROLES = tuple(ROLE_DETAILS)
# The order materials receive a palette's colours by role (see apply/palette.py).
APPLY_ORDER = tuple(sorted(ROLES, key=lambda role: ROLE_DETAILS[role].apply_rank))
MIN_COLORS, MAX_COLORS = 3, 12


@dataclass(frozen=True)
class HarmonyRule:
    """A colour-harmony rule: coloraide's name for it and what it gives (Blender's menu)."""

    coloraide: str
    description: str


# The one list of harmony rules (the protocol's ``harmony`` values; tetradic: the rectangle of
# two complementary pairs).
HARMONY_RULES = {
    "complementary": HarmonyRule("complement", "The base and its opposite hue"),
    "analogous": HarmonyRule("analogous", "The base and its neighbours (30 degrees either side)"),
    "triadic": HarmonyRule("triad", "Three hues 120 degrees apart"),
    "split_complementary": HarmonyRule("split", "The base and the two neighbours of its opposite"),
    "tetradic": HarmonyRule("rectangle", "Two complementary pairs, 30 degrees apart"),
    "monochrome": HarmonyRule("mono", "Lighter and darker steps of the base hue"),
}


@dataclass
class PaletteColor:
    """One colour of a scheme: display hex, a plain name, a role and its weight."""

    hex: str
    name: str
    role: str
    weight: float = 0.0

    def to_dict(self) -> dict:
        return {"hex": self.hex, "name": self.name, "role": self.role}


def check_count(count: int) -> None:
    if not MIN_COLORS <= count <= MAX_COLORS:
        raise TaskError("bad_request", f"count {short(count)} is out of range",
                        hint=f"ask for {MIN_COLORS} to {MAX_COLORS} colours")


def parse_hex(value: str):
    """A coloraide sRGB colour from ``#rrggbb`` (or a TaskError saying the expected form)."""
    from coloraide import Color

    text = value.strip()
    if len(text) != 7 or not text.startswith("#"):
        raise TaskError("bad_request", f"{value!r} is not a colour",
                        hint="give the base colour as #rrggbb, for example #3366cc")
    try:
        return Color(text)
    except ValueError:
        raise TaskError("bad_request", f"{value!r} is not a colour",
                        hint="give the base colour as #rrggbb, for example #3366cc") from None


def to_hex(color) -> str:
    """``#rrggbb`` of a colour in any space, mapped into the sRGB gamut first."""
    return color.convert("srgb").fit("srgb").to_string(hex=True, compress=False)


# --------------------------------------------------------------------------- harmony


def harmony_scheme(base_hex: str, rule: str, count: int) -> dict:
    """Exactly ``count`` colours by ``rule`` around ``base_hex`` as a scheme document
    (``{"title", "colors": [{hex, name, role}]}``), or a TaskError saying what to change:
    a grey base has no hue for a hue rule, and a rule needs room for all its hues."""
    check_count(count)
    hues = rule_hues(base_hex, rule)
    if rule != "monochrome" and parse_hex(base_hex).convert("oklch").is_achromatic():
        raise TaskError("bad_request", f"{base_hex} is a grey, which has no hue for the {rule} rule",
                        hint="pick a coloured base, or use the monochrome rule")
    if count < len(hues):
        raise TaskError("bad_request", f"the {rule} rule has {len(hues)} colours, more than {count}",
                        hint=f"ask for at least {len(hues)} colours")
    found = harmony_palette(base_hex, rule, count)
    if len(found) < count:
        raise TaskError("bad_request", f"{base_hex} gives only {len(found)} distinct colours by the "
                        f"{rule} rule", hint="pick a more saturated base colour or fewer colours")
    title = f"{rule.replace('_', ' ').capitalize()} around {found[0].hex[1:]}"
    return {"title": title, "colors": [c.to_dict() for c in found]}


def harmony_palette(base_hex: str, rule: str, count: int) -> list[PaletteColor]:
    """Up to ``count`` distinct colours around ``base_hex`` by ``rule`` (a key of
    ``HARMONY_RULES``); fewer only when the base is (nearly) grey.

    The rule's colours come first (base first, so the same for every count; cut to ``count``
    when the rule has more), then lighter and darker steps of each hue in turn.
    """
    check_count(count)
    colors = steps_by_hue(rule_hues(base_hex, rule), count)[:count]
    weights = [float(count - i) for i in range(len(colors))]
    return named(colors, weights)


def rule_hues(base_hex: str, rule: str) -> list:
    """The rule's own colours in OKLCh (coloraide), the base first."""
    if rule not in HARMONY_RULES:
        raise TaskError("bad_request", f"unknown harmony rule {rule!r}",
                        hint=f"use one of {', '.join(HARMONY_RULES)}")
    base = parse_hex(base_hex)
    if rule == "monochrome":
        return [base]
    hues = base.harmony(HARMONY_RULES[rule].coloraide, space="oklch")
    # coloraide lists the base first except for "split"; keep the base in front.
    hues.sort(key=lambda c: 0 if c.delta_e(base, method="ok") < 1e-6 else 1)
    return hues


def steps_by_hue(hues: list, count: int) -> list:
    """The hues, then their lightness steps interleaved; more steps while 8-bit rounding or gamut
    mapping folds some together, until ``count`` distinct colours (or a generous limit)."""
    per_hue = -(-count // len(hues))
    while True:
        steps = [_steps_of(c, per_hue) for c in hues]
        colors = _distinct([row[k] for k in range(per_hue) for row in steps])
        if len(colors) >= count or per_hue > 4 * count:
            return colors
        per_hue += 1


def _steps_of(color, total: int) -> list:
    """``color`` first, then ``total - 1`` lightness steps of its hue in OKLCh (coloraide mono)."""
    steps = color.harmony("mono", space="oklch", count=max(total, 3))
    steps.sort(key=lambda c: (c.delta_e(color, method="ok") > 1e-6, c.convert("oklch")["lightness"]))
    return steps[:total]


def _distinct(colors: list) -> list:
    """Drop colours whose hex equals an earlier one (gamut mapping can fold two together)."""
    seen, kept = set(), []
    for color in colors:
        key = to_hex(color)
        if key not in seen:
            seen.add(key)
            kept.append(color)
    return kept


# --------------------------------------------------------------------------- roles and names


def assign_roles(colors: list, weights: list[float]) -> list[str]:
    """Roles for ``colors`` (coloraide colours) by one fixed rule.

    The heaviest colour (largest coverage, or the base of a harmony) is ``primary``. With five
    or more colours the darkest of the rest is ``shadow`` and the lightest ``highlight``. Of
    what remains the most chromatic is ``accent``; then, by weight, ``secondary``,
    ``background``, and ``secondary`` for any further colours.
    """
    lab = [c.convert("oklch") for c in colors]
    roles = [""] * len(colors)
    rest = sorted(range(len(colors)), key=lambda i: (-weights[i], i))
    roles[rest.pop(0)] = "primary"
    if len(colors) >= 5:
        for role, pick in (("shadow", min), ("highlight", max)):
            chosen = pick(rest, key=lambda i: lab[i]["lightness"])
            roles[chosen] = role
            rest.remove(chosen)
    if rest:
        chosen = max(rest, key=lambda i: lab[i]["chroma"])
        roles[chosen] = "accent"
        rest.remove(chosen)
    for n, i in enumerate(rest):
        roles[i] = "background" if n == 1 else "secondary"
    return roles


# Hue names by OKLCh hue angle (lower bound of each band), for colours that have a hue.
_HUE_NAMES = ((0, "pink"), (20, "red"), (45, "orange"), (75, "amber"), (95, "yellow"),
              (115, "lime"), (140, "green"), (170, "teal"), (200, "cyan"), (235, "blue"),
              (275, "indigo"), (300, "violet"), (330, "magenta"), (355, "pink"))


def describe(color) -> str:
    """A plain name such as ``dark muted teal`` from OKLCh lightness, chroma and hue."""
    lch = color.convert("oklch")
    lightness, chroma, hue = lch["lightness"], lch["chroma"], lch["hue"]
    tone = "dark " if lightness < 0.4 else "light " if lightness > 0.8 else ""
    if chroma < 0.03 or lch.is_achromatic():
        return "black" if lightness < 0.2 else "white" if lightness > 0.95 else f"{tone}grey".strip()
    name = next(n for bound, n in reversed(_HUE_NAMES) if hue % 360 >= bound)
    muted = "muted " if chroma < 0.08 else ""
    return f"{tone}{muted}{name}"


def named(colors: list, weights: list[float]) -> list[PaletteColor]:
    """``colors`` as scheme colours: hex, plain name and role (``assign_roles``) with weights."""
    roles = assign_roles(colors, weights)
    return [PaletteColor(hex=to_hex(c), name=describe(c), role=r, weight=round(w, 4))
            for c, w, r in zip(colors, weights, roles, strict=True)]
