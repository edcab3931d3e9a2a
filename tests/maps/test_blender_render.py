"""A normal map in the node network shades the surface the right way round: rendered with Cycles.

A flat plane shows a dome through its normal map alone (classic normals of a hemisphere height
field). Lit from +X, the dome's +X-facing slope must render brighter than its -X-facing one;
lit from +Y (the top of the picture), the upper slope. A normal map with red or green flipped
(the mistake a wrong convention makes) must fail the same check, so the check can tell.
"""

import math

import numpy as np
import pytest
from blender_maps import image_from_array, picture_material
from PIL import Image

SIZE = 64  # pixels of the map and of the render
RADIUS = 24  # pixels of the dome in the map


@pytest.fixture(scope="module")
def dome_normals() -> np.ndarray:
    """Encoded normals (0..1, OpenGL) of a hemisphere in the middle of a flat square."""
    from core import pbr_classic

    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    r2 = (x - SIZE / 2) ** 2 + (y - SIZE / 2) ** 2
    height = np.sqrt(np.clip(RADIUS**2 - r2, 0, None)) / RADIUS  # 0..1; its pixels: * RADIUS
    return pbr_classic.encode_normals(pbr_classic.normals_from_height(height, strength=RADIUS))


def render_dome(bpy, addon, tmp_path, normals: np.ndarray, light_from: str) -> np.ndarray:
    """Render the plane from above with the normal map wired by Atelier; grey values, top row first."""
    from core import provenance

    bpy.ops.wm.read_homefile(use_empty=True)
    grey = np.full((SIZE, SIZE, 3), 0.6, dtype=np.float32)
    _, material = picture_material(bpy, image_from_array(bpy, grey))
    path = tmp_path / f"normal-{light_from}.png"
    Image.fromarray(np.rint(normals * 255).astype(np.uint8)).save(path)
    maps = addon.apply.material_maps
    record = provenance.build("maps", "classic", "classic", {"maps": ["normal"]}, versions={})
    maps.apply_maps(bpy.context, [material], {"normal": path}, record, maps.MapOptions(), "PACK")
    material.node_tree.nodes["Principled BSDF"].inputs["Roughness"].default_value = 1.0

    scene = bpy.context.scene
    camera_data = bpy.data.cameras.new("Top")
    camera_data.type, camera_data.ortho_scale = "ORTHO", 2.0
    camera = bpy.data.objects.new("Top", camera_data)
    camera.location = (0, 0, 5)
    sun_data = bpy.data.lights.new("Sun", "SUN")
    sun_data.energy = 3.0
    sun = bpy.data.objects.new("Sun", sun_data)
    # A sun shines along its -Z axis: turned 45 degrees toward the light's side, it shines
    # down and away from it.
    sun.rotation_euler = (0, math.radians(45), 0) if light_from == "+X" else (math.radians(-45), 0, 0)
    for obj in (camera, sun):
        scene.collection.objects.link(obj)
    scene.camera = camera
    scene.render.engine = "CYCLES"
    scene.cycles.device, scene.cycles.samples = "CPU", 8
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = SIZE
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    scene.render.filepath = str(tmp_path / f"render-{light_from}.png")
    bpy.ops.render.render(write_still=True)
    with Image.open(scene.render.filepath) as rendered:
        return np.asarray(rendered.convert("L"), dtype=np.float32) / 255.0


def slopes(render: np.ndarray, light_from: str) -> tuple[float, float]:
    """Mean brightness of the dome's slope facing the light and of the one facing away."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    dx, dy = x - SIZE / 2, y - SIZE / 2
    inside = dx**2 + dy**2 < (0.9 * RADIUS) ** 2
    toward = dx if light_from == "+X" else -dy  # rows run down; +Y is up the picture
    return float(render[inside & (toward > 4)].mean()), float(render[inside & (toward < -4)].mean())


@pytest.mark.parametrize("light_from", ["+X", "+Y"])
def test_the_slope_facing_the_light_renders_brighter(bpy_module, addon, clean_scene, tmp_path,
                                                      dome_normals, light_from):
    lit, unlit = slopes(render_dome(bpy_module, addon, tmp_path, dome_normals, light_from), light_from)
    assert lit > unlit + 0.1, (lit, unlit)


@pytest.mark.parametrize(("light_from", "channel"), [("+X", 0), ("+Y", 1)])
def test_a_flipped_normal_map_fails_the_check(bpy_module, addon, clean_scene, tmp_path, dome_normals,
                                              light_from, channel):
    flipped = dome_normals.copy()
    flipped[..., channel] = 1.0 - flipped[..., channel]
    lit, unlit = slopes(render_dome(bpy_module, addon, tmp_path, flipped, light_from), light_from)
    assert lit < unlit, (lit, unlit)
