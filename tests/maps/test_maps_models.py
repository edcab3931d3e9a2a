"""What a maps model setting means (``core.maps_models``): no torch, no backend needed."""

from __future__ import annotations

import pytest

from core import maps_models, pbr
from core.maps_models import MapsModelError, engine_of, maps_model_setting, part_sources, parts_for


def test_the_setting_falls_back_to_the_environment_then_marigold(monkeypatch):
    monkeypatch.delenv(pbr.MAPS_MODEL_ENV, raising=False)
    assert maps_model_setting("") == "marigold" == pbr.DEFAULT_MAPS_MODEL
    monkeypatch.setenv(pbr.MAPS_MODEL_ENV, "classic")
    assert maps_model_setting("  ") == "classic"
    assert maps_model_setting("/models/maps") == "/models/maps"


def test_engines_and_the_parts_each_map_needs():
    assert engine_of("Classic") == "classic" and engine_of("marigold") == engine_of("/m") == "marigold"
    assert [part.folder for part in parts_for(["ao"])] == ["depth"]
    assert [part.folder for part in parts_for(["albedo", "normal"])] == ["normals", "appearance"]
    assert sorted(role for part in maps_models.MARIGOLD_PARTS for role in part.maps) == sorted(pbr.MAP_ROLES)


def test_marigold_means_the_three_hub_models():
    assert part_sources("Marigold") == {"normals": "prs-eth/marigold-normals-v1-1",
                                        "appearance": "prs-eth/marigold-iid-appearance-v1-1",
                                        "depth": "prs-eth/marigold-depth-v1-1"}


def test_a_folder_gives_its_three_subfolders(tmp_path):
    for part in maps_models.MARIGOLD_PARTS:
        (tmp_path / part.folder).mkdir()
    assert part_sources(str(tmp_path)) == {part.folder: str(tmp_path / part.folder)
                                           for part in maps_models.MARIGOLD_PARTS}


@pytest.mark.parametrize("setting, code", [
    ("vaporware", "bad_request"),
    ("prs-eth/marigold-depth-v1-1", "bad_request"),
    ("/no/such/folder", "model_missing"),
    ("./not-here", "model_missing"),
    ("~no-such-user-here/maps", "model_missing"),
])
def test_other_settings_are_refused_with_what_to_use(setting, code):
    with pytest.raises(MapsModelError) as caught:
        part_sources(setting)
    assert caught.value.code == code
    assert "classic" in caught.value.hint and "normals/, appearance/, depth/" in caught.value.hint
