def test_extension_enables_and_has_scene_settings(addon, clean_scene):
    assert addon.__name__ == "bl_ext.atelier_dev.atelier"
    assert hasattr(clean_scene, "atelier")
