"""What the tests of .blend files saved, reloaded or swapped while a job runs share: a running
operator on the UI's path, ticked by hand (timers never fire under the bpy module), what a file
holds, and the backend's pid.

Blender's operator instances cannot be made by hand, so ``operator_probe`` makes a plain-Python
object with the operator's own methods and its properties at their defaults; ``load`` then does
what Blender does when a file is loaded under a modal operator: the ``load_pre`` handlers run,
the file is read, the operator's ``cancel`` is called, then the ``load_post`` handlers run.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from blender_helpers import mesh_object
from fault_points import resume, wait_paused
from modal_events import TIMER
from scene_state import datablock_state

# The maps tests' scene builders (a material showing a picture), shared rather than copied.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "maps"))

from blender_maps import image_from_array, picture_material, stripes  # noqa: E402

HOUSEKEEPING = {"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__", "__annotations__",
                "bl_rna", "__slotnames__"}


def property_defaults(bpy, operator) -> dict:
    """Each property of ``operator`` (a registered class) at its default."""
    module, name = operator.bl_idname.split(".")
    values = {}
    for prop in getattr(getattr(bpy.ops, module), name).get_rna_type().properties:
        if prop.identifier == "rna_type":
            continue
        if prop.type == "ENUM" and prop.is_enum_flag:
            values[prop.identifier] = set(prop.default_flag)
        elif getattr(prop, "is_array", False):
            values[prop.identifier] = tuple(prop.default_array)
        else:
            values[prop.identifier] = prop.default
    return values


def operator_probe(bpy, operator, **properties):
    """A stand-in for a running ``operator`` (a registered operator class): its own methods, and
    its properties at their defaults but for ``properties`` (which count as passed)."""
    namespace = {}
    for cls in reversed(operator.__mro__):
        if cls is not operator and issubclass(cls, bpy.types.bpy_struct) or cls is object:
            continue  # Blender's own: its methods work on real operator instances only
        namespace.update({name: value for name, value in vars(cls).items() if name not in HOUSEKEEPING})

    def report(self, kind, message):
        self.reports.append((kind, message))

    namespace["report"] = report
    probe = type(f"{operator.__name__}Probe", (), namespace)()
    for name, value in {**property_defaults(bpy, operator), **properties}.items():
        setattr(probe, name, value)
    probe.properties = SimpleNamespace(is_property_set=lambda name: name in properties)
    probe.reports = []
    return probe


def start(probe, context) -> None:
    """The operator's start on the UI's path (``invoke`` without its window timer)."""
    started = probe._start(context)
    assert started is not None, probe.reports


def tick(probe, context, until=lambda: False, limit=120.0) -> set[str]:
    """Timer ticks until ``until()`` or the operator ends; returns the last outcome."""
    deadline = time.monotonic() + limit
    outcome = {"PASS_THROUGH"}
    while outcome == {"PASS_THROUGH"} and not until():
        assert time.monotonic() < deadline, probe.reports
        time.sleep(0.02)
        outcome = probe.modal(context, TIMER)
    return outcome


def load(bpy, probe, path: Path | None) -> None:
    """Open ``path`` (None: revert to the saved file) under the running ``probe`` as Blender
    does: the ``load_pre`` handlers, the file read, the modal operator's ``cancel`` (Blender ends
    modal operators as it sets up the loaded file's windows), then the ``load_post`` handlers. A
    file that cannot be read raises, and the operator goes on."""
    @bpy.app.handlers.persistent
    def operator_ended(*_args):
        probe.cancel(bpy.context)

    bpy.app.handlers.load_post.insert(0, operator_ended)
    try:
        if path is None:
            bpy.ops.wm.revert_mainfile()
        else:
            bpy.ops.wm.open_mainfile(filepath=str(path))
    finally:
        bpy.app.handlers.load_post.remove(operator_ended)


def file_state(bpy) -> dict:
    """What a job may add to a file, as one comparable value: datablock names, each mesh's UV
    maps, each object's material slots, the texture history."""
    return {
        **datablock_state(bpy),
        "uv_maps": {m.name: [layer.name for layer in m.uv_layers] for m in bpy.data.meshes},
        "history": [item.name for item in bpy.context.scene.atelier.history],
    }


def names_in_file(bpy, path: Path) -> dict:
    """The datablock names stored in the .blend at ``path``, read without loading it (from a
    copy: Blender will not list the file open now)."""
    copy = path.with_name(f"listed-{path.name}")
    shutil.copyfile(path, copy)
    try:
        with bpy.data.libraries.load(str(copy)) as (stored, _nothing):
            return {kind: sorted(getattr(stored, kind)) for kind in
                    ("materials", "images", "objects", "collections", "cameras", "node_groups")}
    finally:
        copy.unlink()


def backend_pid(session) -> int | None:
    """The pid of the backend process Blender runs now (None: none runs)."""
    client = session.current_client()
    transport = client._transport if client is not None else None
    return transport.pid if transport is not None else None


def drain_until(session, done, limit=120.0, what="the backend") -> None:
    """Drain the backend's events as any tick does until ``done()``."""
    deadline = time.monotonic() + limit
    while not done():
        assert time.monotonic() < deadline, f"waited {limit:.0f} s for {what}"
        session.drain(session.current_client(), timeout=0.05)


def picture_scene(bpy) -> None:
    """A plane whose material "Picture" shows a packed 64 x 64 picture "Picture"."""
    picture_material(bpy, image_from_array(bpy, stripes(64, 64)))


def two_files(bpy, folder: Path, build_work) -> tuple[Path, Path]:
    """``other.blend`` (a sphere "Globe" with its own material), then ``work.blend`` made by
    ``build_work(bpy)`` from an empty scene, which stays open. Returns (work, other)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_uv_sphere_add()
    bpy.context.active_object.name = "Globe"
    bpy.context.active_object.data.materials.append(bpy.data.materials.new("Globe paint"))
    other = folder / "other.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(other))
    bpy.ops.wm.read_homefile(use_empty=True)
    build_work(bpy)
    work = folder / "work.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(work))
    return work, other


def jobs_folder_listing(addon) -> set[str]:
    """What lies in Atelier's jobs folder (job folders, input folders)."""
    return set(os.listdir(addon.preferences.user_folder("jobs")))


def late_tick(probe, context) -> set[str]:
    """A timer tick delivered to ``probe`` after Blender ended it (``cancel``), as a timer event
    already queued could be: it must end without applying anything."""
    outcome = probe.modal(context, TIMER)
    assert outcome != {"FINISHED"}, probe.reports
    return outcome


def run_and_load(bpy, addon, probe, pause: Path, path: Path | None, ticks_until=None) -> tuple[list, int]:
    """Start ``probe``, wait until the backend stands at its pause point (and tick until
    ``ticks_until()`` when given), load ``path`` (the same file or another; None: revert), let
    the backend go on, and drain until it is done with every job the load ended, the ended
    operator getting late timer ticks meanwhile. Checks on the way: the jobs ended as cancelled
    by the load, the panel says so, the file stays as loaded, nothing is left in the jobs
    folder. Returns the ended jobs and the backend's pid."""
    session = addon.client.session
    before = jobs_folder_listing(addon)
    start(probe, bpy.context)
    pid = wait_paused(pause)
    if ticks_until is not None:
        assert tick(probe, bpy.context, ticks_until) == {"PASS_THROUGH"}
    jobs = session.active_jobs()
    assert jobs
    load(bpy, probe, path)
    state = bpy.context.window_manager.atelier
    assert all(job.cancelled for job in jobs)
    assert not session.active_jobs() and not state.running
    assert state.last_error_operator == probe.bl_idname
    assert "cancelled because a file was loaded; nothing of it was applied" in state.last_error
    loaded = file_state(bpy)
    late_tick(probe, bpy.context)
    resume(pause)

    def answered() -> bool:
        late_tick(probe, bpy.context)  # each drains, as the operator's own timer does
        return all(job.folder is None or job.folder.removed for job in jobs)

    drain_until(session, answered, what="the backend's last word on the jobs the load ended")
    late_tick(probe, bpy.context)
    assert file_state(bpy) == loaded  # the backend's answers came; nothing of them was applied
    assert jobs_folder_listing(addon) == before
    return jobs, pid


def next_job_works(bpy, session, pid: int) -> None:
    """A texture job in the file now open, served by backend ``pid``."""
    mesh_object(bpy, "Next")
    assert bpy.ops.atelier.generate_texture(prompt="next", width=64, height=64, steps=1,
                                            maps=set()) == {"FINISHED"}
    assert backend_pid(session) == pid
