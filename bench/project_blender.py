"""How long Blender's side of a projection takes on the CPU: 1, 4 and 8 views at 512 px into a
1024 px texture, per phase, in real Blender (the bpy module).

The subject is Suzanne with two levels of subdivision (as rendered: 15,744 triangles) beside a
UV sphere (960 triangles). Pictures stand in for the backend's (no model runs). Phases, each the median of
``--repeats`` runs:
- passes: what each view camera sees (depth, object, UV) and the depth control image written;
- project: the texture so far seen from each later view with its mask written, and each
  picture projected into the texels (weights, depth test, sampling);
- bake/fill: the texels' surface points (UV raster) and the finished textures (blend, fill).
The last column is the process CPU time of the whole run (pictures written and read included),
which a busy machine disturbs less than wall time.

It also times the alternatives the choices were measured against, for one 512 px view and one
1024 px texture: the Cycles depth render (``render_depth``) against the numpy passes, and a
Cycles POSITION bake against the numpy texel raster. With ``--coverage`` it prints instead the
unseen share (what the operator reports) a UV sphere is left with for each number of views.
Run from the repository root:

    .venv/bin/python bench/project_blender.py [--views 1 4 8] [--repeats 3] [--json out.json]
    .venv/bin/python bench/project_blender.py --coverage
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import median_ms  # noqa: E402 (the checkout's root goes on the path first)

VIEW_SIZE, TEXTURE_SIZE = 512, 1024
PHASES = ("passes", "project", "bake/fill")


def _subject(bpy) -> list:
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_monkey_add(location=(-1.2, 0, 0), calc_uvs=True)
    monkey = bpy.context.active_object
    monkey.modifiers.new("Subdivision", "SUBSURF").levels = 2
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.8, location=(1.2, 0, 0))
    return [monkey, bpy.context.active_object]


class _Clock:
    """Milliseconds spent in wrapped functions, by phase."""

    def __init__(self):
        self.ms = dict.fromkeys(PHASES, 0.0)

    def wrap(self, owner, name: str, phase: str, minus: str | None = None):
        real = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            inner = self.ms[minus] if minus else 0.0
            try:
                return real(*args, **kwargs)
            finally:
                spent = (time.perf_counter() - start) * 1000
                self.ms[phase] += spent - ((self.ms[minus] - inner) if minus else 0.0)

        setattr(owner, name, timed)
        return real


def _one_run(bpy, modules, views: int) -> dict[str, float]:
    """Per-phase milliseconds of one whole projection with ``views`` views."""
    run_module, render, bake = modules
    objects = _subject(bpy)
    clock = _Clock()
    saved = [(render, "view_passes", clock.wrap(render, "view_passes", "passes")),
             (render, "write_control_image", clock.wrap(render, "write_control_image", "passes")),
             (bake, "texel_surface", clock.wrap(bake, "texel_surface", "bake/fill"))]
    cls = run_module.ProjectionRun
    saved += [(cls, "next_view", clock.wrap(cls, "next_view", "project", minus="passes")),
              (cls, "accept", clock.wrap(cls, "accept", "project", minus="bake/fill")),
              (cls, "finish", clock.wrap(cls, "finish", "bake/fill"))]
    rng = np.random.default_rng(0)
    from PIL import Image

    cpu_start = time.process_time()

    try:
        with tempfile.TemporaryDirectory(prefix="atelier-bench-") as folder:
            camera = None
            if views == 1:
                camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
                camera.location, camera.rotation_euler = (0, -8, 0.5), (1.5, 0, 0)
                bpy.context.scene.collection.objects.link(camera)
                bpy.context.scene.camera = camera
            run = cls(bpy.context, objects, name="Bench", views=views, view_size=VIEW_SIZE,
                      texture_size=TEXTURE_SIZE, uv_maps={o.name: "UVMap" for o in objects},
                      work_dir=Path(folder) / "work")
            while (job := run.next_view()) is not None:
                path = Path(folder) / f"picture-{job.index}.png"
                noise = rng.integers(0, 256, (VIEW_SIZE, VIEW_SIZE, 3), dtype=np.uint8)
                Image.fromarray(noise).save(path)
                run.accept(job, path)
            run.finish()
            run.discard()
    finally:
        for owner, name, real in saved:
            setattr(owner, name, real)
    # CPU time of the whole run, pictures included: on a busy machine it is the steadier figure.
    return {**clock.ms, "cpu": (time.process_time() - cpu_start) * 1000}


def _alternatives(bpy, modules) -> dict[str, float]:
    """One 512 px view's depth and one 1024 px texture's surface points, each both ways."""
    from core import projection

    _, render, bake = modules
    objects = _subject(bpy)
    meshes = render.rendered_geometry(bpy.context, objects, {obj.name: "UVMap" for obj in objects})
    points = np.concatenate([mesh.corners.reshape(-1, 3) for mesh in meshes])
    center, radius = projection.bounding_sphere(points)
    matrix = projection.camera_matrices(center, radius, 4)[0]
    view = projection.ViewCamera(matrix, VIEW_SIZE)
    camera = bpy.data.objects.new("View", bpy.data.cameras.new("View"))
    camera.data.angle = view.fov
    from mathutils import Matrix

    camera.matrix_world = Matrix(matrix.tolist())
    bpy.context.scene.collection.objects.link(camera)
    render.render_depth(bpy.context, camera, 64, 64)  # warm-up: Cycles' first render loads kernels
    return {
        "depth_numpy_ms": median_ms(lambda: render.view_passes(view, meshes), 3),
        "depth_cycles_ms": median_ms(
            lambda: render.render_depth(bpy.context, camera, VIEW_SIZE, VIEW_SIZE), 3),
        "texels_numpy_ms": median_ms(lambda: bake.texel_surface(meshes[0], TEXTURE_SIZE), 3),
        "texels_cycles_bake_ms": median_ms(lambda: _cycles_position_bake(bpy, objects[0]), 3),
    }


def _cycles_position_bake(bpy, obj) -> None:
    """Cycles' POSITION bake of ``obj`` into a 1024 px float image (one sample), read back."""
    image = bpy.data.images.new("Position", TEXTURE_SIZE, TEXTURE_SIZE, float_buffer=True)
    material = bpy.data.materials.new("Bake")
    if material.node_tree is None:  # Blender 4.x makes materials without nodes
        material.use_nodes = True
    node = material.node_tree.nodes.new("ShaderNodeTexImage")
    node.image = image
    material.node_tree.nodes.active = node
    obj.data.materials.clear()
    obj.data.materials.append(material)
    scene = bpy.context.scene
    scene.render.engine, scene.cycles.device, scene.cycles.samples = "CYCLES", "CPU", 1
    with bpy.context.temp_override(active_object=obj, object=obj, selected_objects=[obj],
                                   selected_editable_objects=[obj]):
        bpy.ops.object.bake(type="POSITION", use_clear=True, target="IMAGE_TEXTURES")
    values = np.empty(TEXTURE_SIZE * TEXTURE_SIZE * 4, dtype=np.float32)
    image.pixels.foreach_get(values)
    obj.data.materials.clear()
    bpy.data.materials.remove(material)
    bpy.data.images.remove(image)


def _sphere_unseen(bpy, modules, views: int) -> float:
    """The unseen share of a UV sphere (64 x 32) painted from ``views`` views (256 px views into
    a 512 px texture)."""
    from PIL import Image

    run_module, _, _ = modules
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_uv_sphere_add(segments=64, ring_count=32)
    sphere = bpy.context.active_object
    with tempfile.TemporaryDirectory(prefix="atelier-bench-") as folder:
        run = run_module.ProjectionRun(bpy.context, [sphere], name="Coverage", views=views, view_size=256,
                                       texture_size=512, uv_maps={sphere.name: "UVMap"},
                                       work_dir=Path(folder) / "work")
        picture = Path(folder) / "grey.png"
        Image.fromarray(np.full((256, 256, 3), 128, dtype=np.uint8)).save(picture)
        while (job := run.next_view()) is not None:
            run.accept(job, picture)
        unseen = run.finish()[sphere.name][1]
        run.discard()
    return unseen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--coverage", action="store_true",
                        help="print the unseen share of a UV sphere for 2 to 16 views instead")
    args = parser.parse_args()
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="atelier-bench-user-"))
    import bpy

    from tools.demo import install_extension

    atelier = install_extension(bpy)
    modules = tuple(importlib.import_module(f"{atelier.__name__}.apply.{name}")
                    for name in ("projection_run", "project_render", "project_bake"))
    if args.coverage:
        for views in range(2, 17):
            unseen = _sphere_unseen(bpy, modules, views)
            print(f"{views:>2} views: {unseen:.1%} of the sphere's texels unseen")
        atelier.client.session.shutdown()
        return
    results = {"blender": bpy.app.version_string, "cpus": os.cpu_count(), "repeats": args.repeats,
               "view_size": VIEW_SIZE, "texture_size": TEXTURE_SIZE, "ms": {}}
    _one_run(bpy, modules, 1)  # warm-up
    for views in args.views:
        runs = [_one_run(bpy, modules, views) for _ in range(args.repeats)]
        phases = {phase: statistics.median(run[phase] for run in runs) for phase in PHASES}
        phases["total"] = statistics.median(sum(run[phase] for phase in PHASES) for run in runs)
        phases["cpu"] = statistics.median(run["cpu"] for run in runs)
        results["ms"][str(views)] = phases
    results["alternatives"] = _alternatives(bpy, modules)

    print(f"Blender {results['blender']}, {results['cpus']} CPUs, {VIEW_SIZE} px views into a "
          f"{TEXTURE_SIZE} px texture, median of {args.repeats} (ms)")
    print(f"{'views':>5} " + " ".join(f"{name:>10}" for name in (*PHASES, "total", "cpu")))
    for views, phases in results["ms"].items():
        print(f"{views:>5} " + " ".join(f"{phases[name]:>10.0f}" for name in (*PHASES, "total", "cpu")))
    alt = results["alternatives"]
    print(f"one view's depth: numpy passes {alt['depth_numpy_ms']:.0f} ms, "
          f"Cycles depth render {alt['depth_cycles_ms']:.0f} ms")
    print(f"one texture's surface points: numpy UV raster {alt['texels_numpy_ms']:.0f} ms, "
          f"Cycles POSITION bake {alt['texels_cycles_bake_ms']:.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    atelier.client.session.shutdown()


if __name__ == "__main__":
    main()
