"""Which engine makes the maps in Blender: ``maps_model`` however it is capitalised, the
ATELIER_MAPS_MODEL override, the classic engine without a backend; and the picture file a
learned maps job is given."""

import json

import numpy as np
import pytest
from blender_maps import MAP_NODE, image_from_array, picture_material, stripes


@pytest.fixture
def preferences(addon, bpy_module):
    """Atelier's preferences; Maps Model and the backend Python are put back after the test."""
    prefs = bpy_module.context.preferences.addons[addon.__name__].preferences
    saved = (prefs.maps_model, prefs.python_path)
    yield prefs
    prefs.maps_model, prefs.python_path = saved


@pytest.fixture
def material(bpy_module, clean_scene):
    _, material = picture_material(bpy_module, image_from_array(bpy_module, stripes()))
    return material


def maps_record(material) -> dict:
    return json.loads(material["atelier_maps_provenance"])


def made_in_blender(material) -> bool:
    """The classic engine inside Blender made the maps (its record names Blender's version)."""
    record = maps_record(material)
    return record["engine"] == "classic" and "blender" in record["versions"]


@pytest.mark.parametrize("written", ["Classic", " CLASSIC "])
def test_classic_in_any_case_runs_in_blender(bpy_module, material, backend_env, written):
    assert bpy_module.ops.atelier.derive_maps(maps={"NORMAL"}, maps_model=written) == {"FINISHED"}
    assert made_in_blender(material)


def test_the_preference_in_any_case_runs_in_blender(bpy_module, material, backend_env, preferences):
    preferences.maps_model = "Classic"
    assert bpy_module.ops.atelier.derive_maps(maps={"NORMAL"}) == {"FINISHED"}
    assert made_in_blender(material)


def test_the_environment_overrides_the_preference(bpy_module, material, backend_env, preferences,
                                                  tiny_marigold, monkeypatch):
    preferences.maps_model = str(tiny_marigold)
    monkeypatch.setenv("ATELIER_MAPS_MODEL", "classic")
    assert bpy_module.ops.atelier.derive_maps(maps={"NORMAL"}) == {"FINISHED"}
    assert made_in_blender(material)


def test_without_a_backend_python_maps_are_classic(bpy_module, material, preferences, tiny_marigold,
                                                   monkeypatch):
    monkeypatch.delenv("ATELIER_PYTHON", raising=False)
    preferences.python_path = ""
    preferences.maps_model = str(tiny_marigold)
    assert bpy_module.ops.atelier.derive_maps(maps={"NORMAL"}) == {"FINISHED"}
    assert made_in_blender(material)


def test_an_exr_picture_reaches_the_learned_maps_as_a_png(bpy_module, clean_scene, backend_env,
                                                          tiny_marigold, tmp_path):
    """The backend reads no OpenEXR: an artist's .exr goes to it as a PNG copy."""
    bpy = bpy_module
    rgba = np.ones((64, 64, 4), dtype=np.float32)
    rgba[..., :3] = stripes()
    image = bpy.data.images.new("Scan", 64, 64, alpha=False, float_buffer=True)
    image.pixels.foreach_set(rgba[::-1].ravel())
    path = tmp_path / "scan.exr"
    image.filepath_raw = str(path)
    image.file_format = "OPEN_EXR"
    image.save()
    scan = bpy.data.images.load(str(path))
    assert (scan.file_format, scan.packed_file, scan.is_dirty) == ("OPEN_EXR", None, False)
    _, material = picture_material(bpy, scan)
    assert bpy.ops.atelier.derive_maps(maps={"NORMAL"}, maps_model=str(tiny_marigold)) == {"FINISHED"}
    assert maps_record(material)["engine"] == "marigold"
    assert np.isfinite(np.array(material.node_tree.nodes[MAP_NODE.format("normal")].image.pixels[:])).all()
