"""Shared set-up for the batch tests: a clean scene whose Texture panel asks for tiny, quick
textures (the batch takes size and steps from it), on the session's local backend."""

from __future__ import annotations

import pytest
from blender_helpers import mesh_object


@pytest.fixture
def batch_scene(bpy_module, addon, clean_scene, backend_env):
    """An empty scene, 64 px and 2 steps in the Texture panel, the tiny model on the backend."""
    settings = clean_scene.atelier.texture
    settings.width = settings.height = 64
    settings.steps = 2
    return clean_scene


@pytest.fixture
def objects(bpy_module, batch_scene):
    """``objects(*names, uvs=True)``: cube meshes with these names, all selected."""
    def make(*names, uvs=True):
        made = [mesh_object(bpy_module, name, uvs=uvs) for name in names]
        for obj in made:
            obj.select_set(True)
        return made

    return make
