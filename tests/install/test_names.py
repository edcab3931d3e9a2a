"""Datablock names cut the same way on every Blender version."""

import pytest


@pytest.mark.parametrize(("text", "expected"), [
    ("  red   brick\nwall ", "red brick wall"),
    ("", "Atelier"),
    ("a" * 80, "a" * 63),
    ("é" * 40, "é" * 31),  # two bytes each: never half a character
    ("word " * 20, " ".join(["word"] * 12)),
])
def test_datablock_names_fit_in_63_bytes(addon, text, expected):
    name = addon.apply.names.datablock_name(text)
    assert name == expected and len(name.encode("utf-8")) <= 63
