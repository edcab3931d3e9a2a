"""Harmony rules by hue angle, and dominant colours of synthetic images."""

import numpy as np
import pytest
from coloraide import Color
from PIL import Image, ImageDraw

from backend import palette_image
from core import colors
from core.errors import TaskError

BASES = ["#3366cc", "#c0392b", "#2e8b57", "#f1c40f"]
# Hue offsets from the base (degrees, OKLCh) that define each rule.
RULE_OFFSETS = {
    "complementary": [0, 180],
    "analogous": [0, -30, 30],
    "triadic": [0, 120, 240],
    "split_complementary": [0, 150, 210],
    "tetradic": [0, 30, 180, 210],
    "monochrome": [0],
}


def _hue(hex_value):
    return Color(hex_value).convert("oklch")["hue"]


def _angle(a, b):
    """Signed-free smallest difference between two hue angles."""
    return abs((a - b + 180) % 360 - 180)


@pytest.mark.parametrize("rule", list(RULE_OFFSETS))
@pytest.mark.parametrize("base", BASES)
def test_harmony_hues_follow_the_rule(rule, base):
    offsets = RULE_OFFSETS[rule]
    palette = colors.harmony_palette(base, rule, 12)
    assert len(palette) == 12
    assert palette[0].hex == base  # the base colour leads, unchanged
    base_hue = _hue(base)
    wanted = sorted((base_hue + o) % 360 for o in offsets)
    rule_hues = [_hue(c.hex) for c in palette[:len(offsets)]]
    for wanted_hue in wanted:  # every hue of the rule is there (8-bit rounding: < 2 degrees)
        assert min(_angle(wanted_hue, h) for h in rule_hues) < 2.0, (wanted_hue, rule_hues)
    for c in palette[len(offsets):]:  # the extension keeps to the rule's hues
        lch = Color(c.hex).convert("oklch")
        if lch["chroma"] > 0.04:  # hue is noise in near greys
            assert min(_angle(lch["hue"], w) for w in wanted) < 6.0, (c.hex, wanted)
    assert len({c.hex for c in palette}) == 12


def test_monochrome_varies_lightness_only():
    palette = colors.harmony_palette("#3366cc", "monochrome", 6)
    lightness = [Color(c.hex).convert("oklch")["lightness"] for c in palette]
    assert len({round(v, 2) for v in lightness}) == 6


@pytest.mark.parametrize("base", ["#000000", "#808080", "#ffffff"])
def test_monochrome_of_a_grey_is_a_grey_ramp(base):
    palette = colors.harmony_palette(base, "monochrome", 12)
    assert len({c.hex for c in palette}) == 12 and palette[0].hex == base
    assert all(Color(c.hex).convert("oklch")["chroma"] < 0.01 for c in palette)


def test_a_longer_harmony_extends_a_shorter_one():
    short = colors.harmony_palette("#2e8b57", "triadic", 4)
    long = colors.harmony_palette("#2e8b57", "triadic", 9)
    assert [c.hex for c in long[:3]] == [c.hex for c in short[:3]]


def test_harmony_roles_put_the_base_first_as_primary():
    palette = colors.harmony_palette("#c0392b", "split_complementary", 6)
    roles = [c.role for c in palette]
    assert roles[0] == "primary" and roles.count("primary") == 1
    assert {"shadow", "highlight", "accent"} <= set(roles)
    assert all(r in colors.ROLES for r in roles)


@pytest.mark.parametrize("kwargs, fix", [
    ({"base_hex": "#3366cc", "rule": "pentagonal", "count": 5}, "use one of"),
    ({"base_hex": "blue", "rule": "triadic", "count": 5}, "#rrggbb"),
    ({"base_hex": "#3366cc", "rule": "triadic", "count": 2}, "3 to 12"),
    ({"base_hex": "#3366cc", "rule": "triadic", "count": 13}, "3 to 12"),
    ({"base_hex": "#3366cc", "rule": "tetradic", "count": 3}, "at least 4"),
    ({"base_hex": "#808080", "rule": "triadic", "count": 5}, "coloured base"),
])
def test_bad_harmony_requests_say_what_to_change(kwargs, fix):
    with pytest.raises(TaskError) as failure:
        colors.harmony_scheme(**kwargs)
    assert failure.value.code == "bad_request"
    assert fix in failure.value.hint


# --------------------------------------------------------------------------- extraction

KNOWN = {"navy": (30, 60, 140), "gold": (230, 180, 40), "crimson": (200, 40, 60)}
# Shares of the opaque 400 x 400 area: a disc of radius 100 and a 120 x 100 block on navy.
_DISC, _BLOCK = np.pi * 100**2 / 400**2, 120 * 100 / 400**2
COVERAGE = {"navy": 1 - _DISC - _BLOCK, "gold": _DISC, "crimson": _BLOCK}


def _synthetic(path, *, noise=3.0, transparent_fill=(0, 255, 0)):
    """Navy ground, a gold disc, a crimson block (``COVERAGE``) and a transparent band
    painted in a colour that must not appear; anti-aliased by downsampling, with noise."""
    image = Image.new("RGBA", (400, 500), KNOWN["navy"] + (255,))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 40, 240, 240), fill=KNOWN["gold"] + (255,))
    draw.rectangle((260, 20, 380, 120), fill=KNOWN["crimson"] + (255,))
    draw.rectangle((0, 400, 400, 500), fill=transparent_fill + (0,))
    image = image.resize((200, 250), Image.Resampling.LANCZOS)  # soft, blended edges
    pixels = np.asarray(image).astype(float)
    pixels[..., :3] += np.random.default_rng(7).normal(0, noise, pixels[..., :3].shape)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGBA").save(path)
    return path


def test_extraction_recovers_known_colours_with_their_coverage(tmp_path):
    palette = palette_image.extract_palette(_synthetic(tmp_path / "scene.png"), 3)
    for found, name in zip(palette, ["navy", "gold", "crimson"], strict=True):  # largest first
        known = Color("srgb", [v / 255 for v in KNOWN[name]])
        assert Color(found.hex).delta_e(known, method="2000") < 2.0, (found.hex, name)
        assert found.weight == pytest.approx(COVERAGE[name], abs=0.02)
    assert palette[0].role == "primary"


def test_an_image_with_fewer_colours_is_filled_with_steps_of_them(tmp_path):
    """Edge blends and specks are no colours of the scene, so it has three; the other four
    asked for are lightness steps of those three (weight 0: they cover none of the image)."""
    image = _synthetic(tmp_path / "scene.png")
    palette = palette_image.extract_palette(image, 7)
    assert len(palette) == 7 and len({c.hex for c in palette}) == 7
    # The first three are the scheme of three, to within what the eye can tell apart.
    for longer, shorter in zip(palette[:3], palette_image.extract_palette(image, 3), strict=True):
        assert Color(longer.hex).delta_e(Color(shorter.hex), method="2000") < 1.0, (longer, shorter)
    assert all(c.weight > 0 for c in palette[:3]) and all(c.weight == 0 for c in palette[3:])
    hues = [_hue(c.hex) for c in palette[:3]]
    for added in palette[3:]:
        lch = Color(added.hex).convert("oklch")
        assert lch["chroma"] < 0.03 or min(_angle(lch["hue"], h) for h in hues) < 10, added
    assert {c.role for c in palette} <= set(colors.ROLES) and palette[0].role == "primary"


def test_transparent_pixels_are_ignored(tmp_path):
    palette = palette_image.extract_palette(_synthetic(tmp_path / "cut.png", transparent_fill=(0, 255, 0)), 6)
    green = Color("srgb", [0, 1, 0])
    assert all(Color(c.hex).delta_e(green, method="2000") > 20 for c in palette)


def test_near_duplicates_are_merged(tmp_path):
    """Two shades 1/255 apart are one colour; the merged weight is their sum."""
    image = Image.new("RGB", (100, 100), (200, 40, 60))
    ImageDraw.Draw(image).rectangle((0, 0, 49, 99), fill=(201, 41, 61))
    ImageDraw.Draw(image).rectangle((0, 0, 19, 19), fill=(20, 20, 20))
    palette = palette_image.extract_palette(_save(tmp_path / "dups.png", image), 5)
    assert [c.weight > 0 for c in palette] == [True, True, False, False, False]  # 2 found, 3 added
    assert palette[0].weight == pytest.approx(0.96, abs=0.01)


def _save(path, image):
    image.save(path)
    return path


def _nearly_flat():
    """Grey 120 with +-1 noise: many values, one colour to the eye."""
    noise = np.random.default_rng(1).integers(-1, 2, (32, 32, 3))
    return (np.full((32, 32, 3), 120) + noise).astype(np.uint8)


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "missing.png", "does not exist"),
    (lambda d: _write(d / "empty.png", b""), "cannot be read"),
    (lambda d: _save(d / "clear.png", Image.new("RGBA", (32, 32), (255, 0, 0, 0))), "fully transparent"),
    (lambda d: _save(d / "flat.png", Image.new("RGB", (32, 32), (90, 120, 30))), "one flat colour"),
    (lambda d: _save(d / "flat_noisy.png", Image.fromarray(_nearly_flat())), "one flat colour"),
])
def test_bad_images_get_clear_errors(tmp_path, make, words):
    with pytest.raises(TaskError) as failure:
        palette_image.extract_palette(make(tmp_path), 5)
    assert failure.value.code == "bad_request"
    assert words in failure.value.message
    assert failure.value.hint


@pytest.mark.parametrize("count", [0, 2, 13])
def test_count_out_of_range(tmp_path, count):
    with pytest.raises(TaskError, match="out of range"):
        palette_image.extract_palette(_synthetic(tmp_path / "scene.png"), count)
