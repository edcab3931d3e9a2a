"""Install the built zip into a fresh Blender, use each feature once, unregister; prints a JSON summary.

Run as ``<python with bpy> install_smoke.py ZIP``, so each Blender version (5.0 in the main test
environment, 4.2 in ``.venv-bpy42``) gets its own process and its own user folder. The backend
and model come from ``ATELIER_PYTHON`` / ``ATELIER_TEXTURE_MODEL``.
"""

import json
import os
import sys
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="atelier-smoke-user-")

import bpy  # noqa: E402  (reads the user folder when imported)

MODULE = "bl_ext.user_default.atelier"
LONG_PROMPT = "weathered " * 6 + "ancient stone wall with deep cracks and moss"  # > 63 bytes


def main(zip_path: str) -> dict:
    import addon_utils  # Blender's own module; importable only once bpy is

    result = bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}, result
    package = sys.modules[MODULE]
    summary = {"blender": bpy.app.version_string, "package": package.__name__,
               "registered": hasattr(bpy.types, "ATELIER_OT_generate_texture")}
    bpy.ops.wm.read_homefile()  # the startup scene: the default cube, selected and active
    cube = bpy.data.objects["Cube"]
    summary["generate"] = sorted(bpy.ops.atelier.generate_texture(
        prompt=LONG_PROMPT, width=64, height=64, steps=1, seed=1))
    material = cube.active_material
    summary["material"] = material.name
    summary["image_size"] = list(bpy.data.images[material.name].size)
    summary["history"] = [item.material_name for item in bpy.context.scene.atelier.history]
    # The other features, on their in-Blender engines: the harmony rules need the bundled
    # coloraide wheel (the 4.2 environment has nothing else), ideas need only the stdlib.
    summary["palette"] = sorted(bpy.ops.atelier.generate_palette(
        source="HARMONY", harmony="TRIADIC", count=3, model="builtin", base_color=(0.2, 0.4, 0.8)))
    colors = bpy.data.palettes[-1].colors if bpy.data.palettes else []
    summary["palette_colors"] = len(colors)
    # PaletteColor holds a display colour in 4.x and a linear one in 5.0: both must read back.
    summary["palette_first_hex"] = package.apply.palette.palette_color_hex(colors[0]) if colors else ""
    summary["palette_first_stored"] = [round(v, 4) for v in colors[0].color] if colors else []
    summary["ideas"] = sorted(bpy.ops.atelier.suggest_scene(
        prompt="a reading nook", count=1, model="builtin", seed=1))
    summary["idea_build"] = sorted(bpy.ops.atelier.apply_scene_idea(index=0))
    summary["idea_parts"] = sorted({o.type for o in bpy.context.scene.collection.children[-1].objects})
    summary["heavy_modules"] = sorted({"torch", "diffusers", "transformers"} & set(sys.modules))
    addon_utils.disable(MODULE, default_set=True)
    summary["left_registered"] = [n for n in dir(bpy.types) if n.startswith(("ATELIER_", "Atelier"))]
    summary["scene_property_left"] = hasattr(bpy.types.Scene, "atelier")
    return summary


if __name__ == "__main__":
    print("ATELIER-SMOKE " + json.dumps(main(sys.argv[1])), flush=True)
