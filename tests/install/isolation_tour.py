"""Every Blender-side path of Atelier in one fresh process; prints the model libraries it loaded.

Other tests share a process with backend tests that import torch, so the check that Blender
never imports torch, diffusers or transformers runs here, in a process of its own. Usage:
``python isolation_tour.py SCRATCH_DIR`` with ``ATELIER_PYTHON``/``ATELIER_TEXTURE_MODEL`` set.
"""

import json
import os
import signal
import sys
import tempfile
import types
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="atelier-tour-user-")

import bpy  # noqa: E402  (reads the user folder when imported)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the shared test helpers
from blender_helpers import install_checkout, slow_texture_request, start_slow_texture_job  # noqa: E402

SMALL = dict(width=64, height=64, steps=1, seed=1)


class AnyLayout:
    """Accepts every layout call (the tour only needs draw to run)."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: AnyLayout()

    def __setattr__(self, name, value):
        pass


def main(scratch: Path) -> list[str]:
    atelier = install_checkout(bpy, scratch / "extensions", "atelier_tour")
    jobs, protocol = atelier.client.session, atelier.core.protocol

    bpy.ops.wm.read_homefile()
    bpy.ops.atelier.generate_texture(prompt="tour stone", **SMALL)
    bpy.ops.mesh.primitive_cube_add(calc_uvs=False)
    bpy.ops.atelier.generate_texture(prompt="tour metal", **SMALL)
    bpy.ops.atelier.texture_history_apply(index=0)
    bpy.ops.atelier.texture_history_regenerate(index=0)
    bpy.ops.atelier.generate_texture(prompt="tour brick", model="builtin")
    bpy.ops.ed.undo_push(message="init")
    bpy.ops.atelier.generate_texture("EXEC_DEFAULT", True, prompt="tour undo", **SMALL)
    bpy.ops.ed.undo()
    for panel in (atelier.panels.main.ATELIER_PT_main, atelier.panels.texture.ATELIER_PT_texture):
        panel.draw(types.SimpleNamespace(layout=AnyLayout()), bpy.context)

    client = jobs.client_for(atelier.preferences.backend_config(jobs.EXTENSION_DIR))
    model = os.environ["ATELIER_TEXTURE_MODEL"]
    job = start_slow_texture_job(jobs, protocol, client, model, scratch, "tour")
    bpy.ops.atelier.cancel_job()
    jobs.wait(client, job, timeout=60)
    job = jobs.submit(client, slow_texture_request(jobs, protocol, model, scratch, "tour"))
    jobs.drain(client, timeout=1.0)
    os.kill(client._transport.pid, signal.SIGKILL)
    jobs.wait(client, job, timeout=10)
    bpy.ops.atelier.free_memory()
    bpy.ops.wm.save_as_mainfile(filepath=str(scratch / "tour.blend"))
    bpy.ops.wm.open_mainfile(filepath=str(scratch / "tour.blend"))
    bpy.ops.atelier.generate_texture(prompt="tour after reload", target="Cube", **SMALL)
    bpy.ops.atelier.backend_doctor()
    import addon_utils  # Blender's own module; importable only once bpy is

    addon_utils.disable(atelier.__name__, default_set=True)
    return sorted({"torch", "diffusers", "transformers"} & set(sys.modules))


if __name__ == "__main__":
    print("ATELIER-TOUR " + json.dumps(main(Path(sys.argv[1]))), flush=True)
