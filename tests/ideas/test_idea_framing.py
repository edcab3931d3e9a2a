"""A repaired idea's camera in real Blender: every object's bounding-box centre projects inside
the frame (``world_to_camera_view``, Blender's own projection), between the clip start and end.

The schema keeps the camera and every object within 100 m of the origin along each axis, so no
object is further than about 390 m from the camera: inside Blender's default clip end (1 km)."""

import random

import pytest
from camera_view import unframed
from random_ideas import random_idea

from core import idea_repair
from core import ideas as idea_rules


@pytest.mark.parametrize("seed", range(4))
def test_a_repaired_camera_frames_every_object_in_blender(addon, bpy_module, clean_scene, seed):
    scene = clean_scene
    assert (scene.render.resolution_x, scene.render.resolution_y) == (1920, 1080)  # Blender's default
    rng = random.Random(seed)
    for _ in range(3):
        idea, _ = idea_rules.check_idea(random_idea(rng))
        built = addon.apply.scene_idea.build_idea(scene, idea)
        missed_before = unframed(bpy_module, scene, built.camera, built.objects)
        repaired, _ = idea_repair.repair_idea(idea)
        built = addon.apply.scene_idea.build_idea(scene, repaired)
        assert unframed(bpy_module, scene, built.camera, built.objects) == [], missed_before
    # The random ideas were poorly framed to begin with: the check has something to catch.
    assert missed_before
