"""Blender's main-thread time per live-preview tick while previews stream.

Real Blender (the bpy module) with Atelier installed as an extension, the real backend on the
CPU and a tiny random Stable Diffusion model making 512 px previews. An artist "types": the
prompt changes every ``--interval`` seconds (each change sends a preview through the update
callback, the newest wins in the backend), while the timer's ``tick`` runs every
``TICK_INTERVAL`` as Blender would call it. Prints the maximum and 99th percentile of the time
each tick takes (all ticks, and the ticks that put an image into the preview), and of the
update callback that sends a preview. Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/preview_ticks.py [--seconds 30] [--size 512]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REPO_MODULE = "atelier_bench"


def install(bpy, folder: Path):
    """The checkout as an extension (a local repository linking to it), enabled; its package."""
    import addon_utils

    (folder / "atelier").symlink_to(ROOT, target_is_directory=True)
    bpy.context.preferences.extensions.repos.new(name=REPO_MODULE, module=REPO_MODULE,
                                                 custom_directory=str(folder), source="USER")
    module = f"bl_ext.{REPO_MODULE}.atelier"
    addon_utils.enable(module, default_set=True)
    return sys.modules[module]


def figures(name: str, times_ms: list[float]) -> str:
    if not times_ms:
        return f"{name}: none"
    values = np.asarray(times_ms)
    return (f"{name}: n={len(values)}  max {values.max():.2f} ms  p99 {np.percentile(values, 99):.2f} ms  "
            f"median {np.median(values):.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long previews stream")
    parser.add_argument("--size", type=int, default=512, help="preview size in pixels")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between prompt changes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="atelier-bench-") as tmp:
        tmp = Path(tmp)
        model = tmp / "tiny-sd"
        # Built in a subprocess: torch stays out of the measured (Blender) process.
        subprocess.run([sys.executable, "-c", "import sys; from backend.doctor_models import build_tiny_sd; "
                                              "build_tiny_sd(sys.argv[1])", str(model)], cwd=ROOT, check=True)
        os.environ.update({"HF_HUB_OFFLINE": "1", "BLENDER_USER_RESOURCES": str(tmp / "user"),
                           "ATELIER_PYTHON": sys.executable, "ATELIER_TEXTURE_MODEL": str(model),
                           "ATELIER_DEVICE": "cpu"})
        import bpy

        (tmp / "extensions").mkdir()
        atelier = install(bpy, tmp / "extensions")
        live, display = atelier.operators.live_preview, atelier.apply.live_preview
        live.PREVIEW_SIZE = args.size
        bpy.ops.wm.read_homefile(use_empty=True)
        bpy.ops.mesh.primitive_cube_add(calc_uvs=True)
        settings = bpy.context.scene.atelier.texture
        settings.width = settings.height = args.size
        settings.prompt, settings.seed = "weathered red bricks 0", 7
        live.start(bpy.context)

        # Warm up: the backend loads the model; the first preview shown ends it.
        while not display.is_shown():
            live.tick()
            time.sleep(live.TICK_INTERVAL)

        ticks, applying, sends = [], [], []
        shown = 0
        start = time.perf_counter()
        next_change = start
        while time.perf_counter() - start < args.seconds:
            now = time.perf_counter()
            if now >= next_change:
                before = time.perf_counter()
                settings.prompt = f"weathered red bricks {len(sends) + 1}"  # the update sends a preview
                sends.append((time.perf_counter() - before) * 1000)
                next_change += args.interval
            updates = display.updates()
            before = time.perf_counter()
            live.tick()
            took = (time.perf_counter() - before) * 1000
            ticks.append(took)
            if display.updates() != updates:
                applying.append(took)
                shown += 1
            time.sleep(live.TICK_INTERVAL)
        live.stop()
        atelier.client.session.shutdown()

    print(f"live preview, {args.size} px previews from a tiny SD model on the CPU, prompt changed every "
          f"{args.interval:g} s for {args.seconds:g} s: {len(sends)} sent, {shown} shown")
    print(figures("tick (all)", ticks))
    print(figures("tick (image applied)", applying))
    print(figures("update callback (send)", sends))


if __name__ == "__main__":
    main()
