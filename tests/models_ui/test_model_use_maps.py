"""``atelier.model_use`` with ``kind='maps'``: the Maps Model preference takes ``classic``,
``marigold`` (also for any of Marigold's hub parts) or a folder that exists; anything else is
refused saying what the setting takes, and the preference stays as it was."""

import pytest


@pytest.fixture
def prefs(addon, bpy_module):
    """Atelier's preferences with the Maps Model set to a known value; restored afterwards."""
    prefs = bpy_module.context.preferences.addons[addon.__name__].preferences
    saved = prefs.maps_model
    prefs.maps_model = "marigold"
    yield prefs
    prefs.maps_model = saved


def test_the_engines_and_marigolds_parts_name_their_setting(bpy_module, prefs, tmp_path):
    # 'classic' is the engine without weights: it must not become the multi-GB 'marigold'.
    for model, setting in [("classic", "classic"), ("prs-eth/marigold-normals-v1-1", "marigold"),
                           (" Classic ", "classic"), ("prs-eth/marigold-iid-appearance-v1-1", "marigold"),
                           (str(tmp_path), str(tmp_path)), ("MARIGOLD", "marigold")]:
        assert bpy_module.ops.atelier.model_use(model=model, kind="maps") == {"FINISHED"}
        assert prefs.maps_model == setting, model


@pytest.mark.parametrize("model, match", [
    ("{tmp}/typo-folder", r"maps model folder '.*typo-folder' does not exist — use classic \(no weights\), "
                          r"marigold or a folder holding normals/, appearance/, depth/"),
    ("stabilityai/sdxl-turbo", r"'stabilityai/sdxl-turbo' is one hub id, but maps need three Marigold"),
    ("clasic", r"unknown maps model 'clasic' — use classic"),
])
def test_other_names_are_refused_and_the_setting_stays(bpy_module, prefs, tmp_path, model, match):
    prefs.maps_model = "classic"
    with pytest.raises(RuntimeError, match=match) as refused:
        bpy_module.ops.atelier.model_use(model=model.format(tmp=tmp_path), kind="maps")
    assert "Traceback" not in str(refused.value)
    assert prefs.maps_model == "classic"
