"""How long the built-in engine takes for each task, inside real Blender (the bpy module).

The issue's target is "about a second on a CPU" per draft. Installs this checkout as an
extension (as the demo does), then times every texture recipe, a colour scheme and a set of
scene ideas, each the median of several runs. Run from the repository root:

    .venv/bin/python bench/builtin_engine.py [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import median_ms  # noqa: E402 (the checkout's root goes on the path first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="atelier-bench-user-"))
    import bpy

    from tools.demo import install_extension

    atelier = install_extension(bpy)
    texture, palette, ideas = (importlib.import_module(f"{atelier.__name__}.builtin.{name}")
                               for name in ("texture", "palette", "ideas"))

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_uv_sphere_add()
    sphere = bpy.context.active_object
    results = {"blender": bpy.app.version_string, "repeats": args.repeats, "texture_ms": {}}
    for recipe_id in texture.recipes():
        results["texture_ms"][recipe_id] = median_ms(
            lambda recipe_id=recipe_id: texture.apply_procedural_material(
                bpy.context, [sphere], f"old {recipe_id}", 3), args.repeats)
    results["palette_ms"] = median_ms(lambda: palette.make_palette("rainy neon alley", 6, 1), args.repeats)
    results["ideas_5_ms"] = median_ms(lambda: ideas.suggest_ideas("a cosy reading nook", 5, 1), args.repeats)

    slowest = max(results["texture_ms"], key=results["texture_ms"].get)
    print(f"Blender {results['blender']}, median of {args.repeats}")
    print(f"texture: median over recipes {statistics.median(results['texture_ms'].values()):.1f} ms, "
          f"slowest {slowest} {results['texture_ms'][slowest]:.1f} ms")
    print(f"colour scheme (6 colours): {results['palette_ms']:.1f} ms")
    print(f"scene ideas (5): {results['ideas_5_ms']:.1f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    atelier.client.session.shutdown()


if __name__ == "__main__":
    main()
