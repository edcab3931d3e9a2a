"""Live preview tests: the controller module, a cube, and the preview stopped after each test."""

import pytest


@pytest.fixture
def live(addon, clean_scene):
    """``operators/live_preview.py``; the preview is off again after the test, whatever it did."""
    module = addon.operators.live_preview
    yield module
    module.stop()


@pytest.fixture
def settings(clean_scene):
    """The Texture panel's settings, small so previews and textures are quick."""
    texture = clean_scene.atelier.texture
    texture.width = texture.height = 64
    return texture
