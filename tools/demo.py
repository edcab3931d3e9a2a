"""Atelier's headless demo through the bpy module: texture an object, build a block-out, apply a
colour scheme, save a .blend, render a PNG.

Usage: ``.venv/bin/python tools/demo.py [--out DIR] [--prompt TEXT] [--size PX]`` (tools/demo.sh
sets up the environment and runs this). The texture engine is ``ATELIER_TEXTURE_MODEL``: a
Hugging Face id or local folder runs the diffusion backend (``ATELIER_PYTHON``), ``builtin``
the built-in procedural engine. The scene idea and the colour scheme come from
``ATELIER_TEXT_MODEL`` (default ``builtin``: templates and colour tables, no weights). A failure
ends with a message saying what to configure.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPO_MODULE = "atelier_demo"
# Where the block-out goes, whatever its size: its near edge this far behind the subject (which
# stands at the origin), its middle this far to the side, and its lowest point on the demo's
# ground (Z = -1), a hair above it.
BLOCK_OUT_GAP = 2.0
BLOCK_OUT_SIDE = 1.5
GROUND_Z = -1.0 + 0.002
ADDON_MODULE = f"bl_ext.{REPO_MODULE}.atelier"


class DemoFailed(Exception):
    """A step failed for a reason the user can fix; the message says how."""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "out"), help="folder for demo.blend and demo.png")
    parser.add_argument("--prompt", default="weathered red brick wall", help="what the texture shows")
    parser.add_argument("--size", type=int, default=256, help="render size in pixels")
    parser.add_argument("--texture-size", type=int, default=512, help="generated image size")
    parser.add_argument("--steps", type=int, default=0, help="denoising steps (0 = the model's own)")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples")
    return parser.parse_args(argv)


def install_extension(bpy):
    """Atelier as an extension from this checkout, the way Blender loads installed ones."""
    import addon_utils

    repo_dir = Path(tempfile.mkdtemp(prefix="atelier-demo-repo-"))
    (repo_dir / "atelier").symlink_to(ROOT, target_is_directory=True)
    bpy.context.preferences.extensions.repos.new(
        name="Atelier demo", module=REPO_MODULE, custom_directory=str(repo_dir), source="USER")
    addon_utils.enable(ADDON_MODULE, default_set=True)
    if ADDON_MODULE not in bpy.context.preferences.addons:
        raise DemoFailed("the Atelier extension did not enable; run `bash tools/test.sh` to see why")
    return sys.modules[ADDON_MODULE]


def build_scene(bpy):
    """A sphere on a ground plane, a camera and a sun: enough to see a material."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_plane_add(size=8.0, location=(0, 0, -1))
    bpy.context.active_object.name = "Ground"
    bpy.ops.mesh.primitive_uv_sphere_add(radius=1.0, segments=48, ring_count=24)
    subject = bpy.context.active_object
    subject.name = "Subject"
    bpy.ops.object.shade_smooth()
    bpy.ops.object.camera_add(location=(0.0, -5.0, 1.6), rotation=(1.29, 0.0, 0.0))
    scene.camera = bpy.context.active_object
    bpy.ops.object.light_add(type="SUN", rotation=(0.8, 0.2, 0.6))
    bpy.context.active_object.data.energy = 3.0
    world = bpy.data.worlds.new("Demo sky")
    world.color = (0.35, 0.4, 0.5)
    if world.node_tree is not None:  # node-based worlds (5.0) take the colour from Background
        world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.35, 0.4, 0.5, 1.0)
    scene.world = world
    bpy.ops.object.select_all(action="DESELECT")
    subject.select_set(True)
    bpy.context.view_layer.objects.active = subject
    return subject


def texture_subject(bpy, subject, args) -> str:
    """Generate the texture onto the subject; returns the engine that made it."""
    model = os.environ.get("ATELIER_TEXTURE_MODEL", "")
    _run(bpy.ops.atelier.generate_texture, "texture", "ATELIER_TEXTURE_MODEL", prompt=args.prompt,
         width=args.texture_size, height=args.texture_size, steps=args.steps, seed=7,
         target=subject.name)
    entry = bpy.context.scene.atelier.history[-1]
    return f"{entry.engine or 'unknown'} (model {entry.model or model})"


def text_model() -> str:
    """The engine for the scene idea and the colour scheme: ``ATELIER_TEXT_MODEL`` or ``builtin``."""
    return os.environ.get("ATELIER_TEXT_MODEL", "").strip() or "builtin"


def _run(operator, step: str, model_variable: str, **properties) -> None:
    """One Atelier operator; its ERROR report becomes a DemoFailed saying what to change."""
    try:
        result = operator("EXEC_DEFAULT", **properties)
    except RuntimeError as exc:  # the operator's ERROR report: the message says what to change
        message = str(exc).removeprefix("Error: ").strip()
        raise DemoFailed(f"{step} failed: {message}\nConfigure a model that is available here "
                         f"({model_variable}=<downloaded HF id or local folder>, see README) "
                         f"or run with {model_variable}=builtin.") from None
    if result != {"FINISHED"}:
        raise DemoFailed(f"{step} did not finish ({result}); see the messages above")


def add_block_out(bpy, args):
    """Suggest a scene idea for the prompt and build it as a block-out behind the subject.

    Returns the block-out's collection and the engine that suggested it."""
    scene = bpy.context.scene
    _run(bpy.ops.atelier.suggest_scene, "scene idea", "ATELIER_TEXT_MODEL", prompt=args.prompt,
         count=1, seed=7, model=text_model())
    before = set(scene.collection.children)
    _run(bpy.ops.atelier.apply_scene_idea, "block-out", "ATELIER_TEXT_MODEL", index=0)
    (collection,) = set(scene.collection.children) - before
    # Ideas stand around the origin, where the subject is, and come in every size (a product
    # sweep is 4 m, an alley 26 m deep): move this one by its bounding box so it stands behind
    # the subject and the demo camera is never inside it.
    low, high = _bounds(bpy, collection)
    shift = (BLOCK_OUT_SIDE - (low[0] + high[0]) / 2, BLOCK_OUT_GAP - low[1], GROUND_Z - low[2])
    for obj in collection.objects:
        if obj.parent is None:
            obj.location = [a + b for a, b in zip(obj.location, shift, strict=True)]
    return collection, scene.atelier.ideas[0].engine or "unknown"


def _bounds(bpy, collection):
    """The world-space corners (lowest, highest) of the collection's objects, its camera and
    lights left out: the bounding boxes of meshes and text, the places of empties (whose box is
    their origin). Every idea has at least one such object."""
    from mathutils import Vector

    bpy.context.view_layer.update()
    points = [obj.matrix_world @ Vector(corner) for obj in collection.objects
              if obj.type not in ("CAMERA", "LIGHT") for corner in obj.bound_box]
    return ([min(p[axis] for p in points) for axis in range(3)],
            [max(p[axis] for p in points) for axis in range(3)])


def colour_block_out(bpy, collection, args) -> str:
    """Make a colour scheme for the prompt and apply it to the block-out and the world.

    Returns the engine that made the scheme."""
    scene = bpy.context.scene
    _run(bpy.ops.atelier.generate_palette, "colour scheme", "ATELIER_TEXT_MODEL", source="PROMPT",
         prompt=args.prompt, count=5, seed=7, model=text_model())
    palette = scene.atelier.palette.palette
    bpy.ops.object.select_all(action="DESELECT")
    for obj in collection.objects:
        obj.select_set(True)
    _run(bpy.ops.atelier.apply_palette, "applying the colour scheme", "ATELIER_TEXT_MODEL",
         palette=palette.name, scope="SELECTED", include_world=True)
    record = json.loads(scene.atelier.palettes[palette.name].provenance or "{}")
    return record.get("engine", "unknown")


def render(bpy, out: Path, size: int, samples: int) -> Path:
    """A small Cycles CPU render (EEVEE would first compile shaders for a long time)."""
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    path = out / "demo.png"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="atelier-demo-user-"))
    import bpy

    try:
        atelier = install_extension(bpy)
        try:
            subject = build_scene(bpy)
            engine = texture_subject(bpy, subject, args)
            print(f"Atelier demo: texture '{args.prompt}' on {subject.name} by engine {engine}")
            collection, idea_engine = add_block_out(bpy, args)
            print(f"Atelier demo: block-out '{collection.name}' by engine {idea_engine}")
            palette_engine = colour_block_out(bpy, collection, args)
            print(f"Atelier demo: colour scheme applied to the block-out by engine {palette_engine}")
            blend = out / "demo.blend"
            bpy.ops.wm.save_as_mainfile(filepath=str(blend))
            png = render(bpy, out, args.size, args.samples)
        finally:
            atelier.client.session.shutdown()
    except DemoFailed as exc:
        print(f"Atelier demo stopped: {exc}", file=sys.stderr)
        return 1
    print(f"Atelier demo: wrote {blend} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
