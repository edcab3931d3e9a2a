"""Install the built zip into a fresh Blender, use each feature once, unregister; prints a JSON summary.

Run as ``<python with bpy> install_smoke.py ZIP``, so each Blender version (5.0 in the main test
environment, 4.2, 4.5 and 5.3 in environments of their own) gets its own process and its own user
folder. The backend and model come from ``ATELIER_PYTHON`` / ``ATELIER_TEXTURE_MODEL``. The
process must also exit by itself: bpy 4.2 crashes and 4.5 hangs at exit while a timer that the
extension registered is left behind.
"""

import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="atelier-smoke-user-")

import bpy  # noqa: E402  (reads the user folder when imported)

MODULE = "bl_ext.user_default.atelier"
LONG_PROMPT = "weathered " * 6 + "ancient stone wall with deep cracks and moss"  # > 63 bytes
MODEL_PROCESS_PACKAGE = "backend"  # runs in its own Python, never imported by Blender


def blender_side_import_errors(package) -> dict[str, str]:
    """Module name -> error for every shipped Blender-side module that fails to import here.

    Registering imports most modules, but some only on first use (the built-in engine, export):
    importing each one proves its syntax and its standard-library imports hold in this
    Blender's Python (3.11 up to Blender 5.0, 3.13 from 5.1)."""
    root = Path(package.__file__).parent
    errors = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[0] == MODEL_PROCESS_PACKAGE:
            continue
        name = ".".join((package.__name__, *parts[:-1 if parts[-1] == "__init__" else None]))
        try:
            importlib.import_module(name)
        except Exception as exc:  # the summary reports every module, not just the first failure
            errors[name] = f"{type(exc).__name__}: {exc}"
    return errors


def blender_classes(package) -> set[type]:
    """Every Blender type (operator, panel, property group, preferences...) the package defines.

    Collected from its modules rather than read from ``bpy.types``, which lists no property
    groups."""
    def ours(module_name: str) -> bool:
        return module_name == package.__name__ or module_name.startswith(package.__name__ + ".")

    return {value for name, module in list(sys.modules.items()) if ours(name)
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, bpy.types.bpy_struct) and ours(value.__module__)}


def main(zip_path: str) -> dict:
    import addon_utils  # Blender's own module; importable only once bpy is

    handlers_before = {name: len(getattr(bpy.app.handlers, name)) for name in dir(bpy.app.handlers)
                       if isinstance(getattr(bpy.app.handlers, name), list)}
    result = bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}, result
    package = sys.modules[MODULE]
    summary = {"blender": bpy.app.version_string, "python": list(sys.version_info[:2]),
               "package": package.__name__,
               "registered": hasattr(bpy.types, "ATELIER_OT_generate_texture"),
               "import_errors": blender_side_import_errors(package)}
    bpy.ops.wm.read_homefile()  # the startup scene: the default cube, selected and active
    cube = bpy.data.objects["Cube"]
    summary["generate"] = sorted(bpy.ops.atelier.generate_texture(
        prompt=LONG_PROMPT, width=64, height=64, steps=1, seed=1))
    material = cube.active_material
    summary["material"] = material.name
    summary["image_size"] = list(bpy.data.images[material.name].size)
    summary["history"] = [item.material_name for item in bpy.context.scene.atelier.history]
    # A colour scheme through the backend too: the generated image's colours (k-means in the
    # model process), which needs no text model.
    summary["image_palette"] = sorted(bpy.ops.atelier.generate_palette(
        source="IMAGE", image=material.name, count=4))
    scheme = bpy.context.scene.atelier.palette.palette
    summary["image_palette_colors"] = len(scheme.colors) if scheme else 0
    record = bpy.context.scene.atelier.palettes[scheme.name].provenance if scheme else ""
    summary["image_palette_engine"] = json.loads(record or "{}").get("engine", "")
    # PBR maps by the classic engine inside Blender, then the material exported for DirectX.
    summary["derive_maps"] = sorted(bpy.ops.atelier.derive_maps(
        material=material.name, maps={"NORMAL", "HEIGHT"}, maps_model="classic"))
    summary["maps_engine"] = material.get("atelier_maps_engine", "")
    export_folder = tempfile.mkdtemp(prefix="atelier-smoke-export-")
    summary["export"] = sorted(bpy.ops.atelier.export_material(
        material=material.name, directory=export_folder, normal_convention="DIRECTX"))
    summary["exported"] = sorted(os.listdir(export_folder))
    # The other features on the built-in engine: a procedural texture and the harmony rules
    # (these need the bundled coloraide wheel), ideas (only the stdlib).
    summary["builtin_generate"] = sorted(bpy.ops.atelier.generate_texture(
        prompt="red brick wall", model="builtin", seed=1))
    builtin_material = cube.active_material
    summary["builtin_material"] = builtin_material.name
    summary["builtin_node_types"] = sorted({node.type for node in builtin_material.node_tree.nodes})
    summary["palette"] = sorted(bpy.ops.atelier.generate_palette(
        source="HARMONY", harmony="TRIADIC", count=3, model="builtin", base_color=(0.2, 0.4, 0.8)))
    scheme = bpy.context.scene.atelier.palette.palette
    colors = scheme.colors if scheme else []
    summary["palette_colors"] = len(colors)
    # PaletteColor holds a display colour in 4.x and a linear one from 5.0: both must read back.
    summary["palette_first_hex"] = package.apply.palette.palette_color_hex(colors[0]) if colors else ""
    summary["palette_first_stored"] = [round(v, 4) for v in colors[0].color] if colors else []
    summary["ideas"] = sorted(bpy.ops.atelier.suggest_scene(
        prompt="a reading nook", count=1, model="builtin", seed=1))
    summary["idea_build"] = sorted(bpy.ops.atelier.apply_scene_idea(index=0))
    summary["idea_parts"] = sorted({o.type for o in bpy.context.scene.collection.children[-1].objects})
    summary["heavy_modules"] = sorted({"torch", "diffusers", "transformers"} & set(sys.modules))
    classes = blender_classes(package)
    summary["classes_registered"] = sorted(cls.__name__ for cls in classes if cls.is_registered)
    addon_utils.disable(MODULE, default_set=True)
    summary["left_registered"] = sorted(cls.__name__ for cls in classes if cls.is_registered)
    summary["handlers_left"] = {name: len(getattr(bpy.app.handlers, name)) - count
                                for name, count in handlers_before.items()
                                if len(getattr(bpy.app.handlers, name)) != count}
    summary["properties_left"] = [owner.__name__ for owner in (bpy.types.Scene, bpy.types.WindowManager)
                                  if hasattr(owner, "atelier")]
    return summary


if __name__ == "__main__":
    print("ATELIER-SMOKE " + json.dumps(main(sys.argv[1])), flush=True)
