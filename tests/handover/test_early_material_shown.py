"""``atelier.generate_texture`` in the UI asks the local backend for the finished pixels ahead
of the PNG and puts the material on from them at once; when the result comes the PNG (with its
record) takes the early Image's place, and the file ends exactly as the blocking path leaves
it. ``blender -b`` and a remote backend never ask."""

from __future__ import annotations

import numpy as np
from blender_helpers import mesh_object
from early_material import (
    TEXTURE,
    pixels,
    show_early,
    shown_image,
    start_modal,
    texture_probe,
    texture_state,
    tick,
    wait_queued,
)
from fault_points import resume, wait_paused
from modal_events import TIMER


def test_the_material_shows_before_the_png_is_written_and_the_png_takes_its_place(
        bpy_module, addon, clean_scene, paused_backend):
    bpy = bpy_module
    cube = mesh_object(bpy)
    probe = texture_probe(bpy, addon)
    show_early(probe, bpy.context, paused_backend)
    job = probe._job
    assert job.request.early_pixels is True
    assert not (job.folder.path / "base_color.png").exists()  # the backend stands before the PNG

    material = cube.active_material
    assert material.name == TEXTURE["prompt"]
    early = shown_image(material)
    assert early.name == TEXTURE["prompt"] and tuple(early.size) == (64, 64)
    assert early.packed_file is None and "atelier_provenance" not in material  # the record comes with the PNG
    shown = pixels(early)
    raw = np.frombuffer(job.early.pixels.read_bytes(), np.uint8).reshape(64, 64, 4)[::-1]  # bottom row first
    assert np.array_equal(np.round(shown * 255), raw)  # an 8-bit Image: exactly the bytes sent
    assert shown[..., :3].std() > 0.01  # a picture, not a blank Image

    resume(paused_backend)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert cube.active_material == material  # the same material, now showing the PNG
    final = shown_image(material)
    assert [image.name for image in bpy.data.images] == [final.name] == [TEXTURE["prompt"]]
    assert final.packed_file is not None and final.source == "FILE"
    assert "atelier_provenance" in final and "atelier_provenance" in material
    assert np.array_equal(pixels(final), shown)  # the PNG holds exactly the pixels shown early
    [entry] = bpy.context.scene.atelier.history
    assert (entry.material_name, entry.image_name) == (material.name, final.name)
    assert not job.folder.path.exists()  # the job's folder went once the PNG was packed


def two_targets(bpy) -> None:
    """A cube with UVs and one without (two materials, the second box-mapped), both selected,
    and a material and an Image already named as the texture (the new ones get '.001')."""
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.data.materials.new(TEXTURE["prompt"])
    bpy.data.images.new(TEXTURE["prompt"], 4, 4)
    mesh_object(bpy, "Wall", uvs=True)
    mesh_object(bpy, "Crate", uvs=False).select_set(True)
    bpy.data.objects["Wall"].select_set(True)


def test_names_slots_records_and_maps_end_as_on_the_blocking_path(bpy_module, addon, paused_backend):
    bpy = bpy_module
    arguments = dict(maps={"NORMAL"}, maps_model="classic")  # maps made in Blender, in the same step
    two_targets(bpy)
    blocking = texture_probe(bpy, addon, **arguments)
    shown = []
    blocking.show_early = lambda context, job: shown.append(job)
    assert blocking.execute(bpy.context) == {"FINISHED"}, blocking.reports
    assert blocking._job.request.early_pixels is False and not shown  # blender -b never asks
    expected = texture_state(bpy)
    assert expected["materials"] == sorted([TEXTURE["prompt"], f"{TEXTURE['prompt']}.001",
                                            f"{TEXTURE['prompt']} (box)"])

    two_targets(bpy)
    probe = texture_probe(bpy, addon, **arguments)
    show_early(probe, bpy.context, paused_backend)
    resume(paused_backend)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert texture_state(bpy) == expected
    assert probe.reports[-1][1].split(" (seed")[0] == blocking.reports[-1][1].split(" (seed")[0]


def one_cube(bpy):
    """An empty scene but for a selected cube with UVs."""
    bpy.ops.wm.read_homefile(use_empty=True)
    return mesh_object(bpy)


def test_pixels_and_result_in_one_tick_show_the_material_while_the_backend_maps_job_runs(
        bpy_module, addon, paused_backend, tiny_marigold):
    """The image event and the result drained by one tick (Blender was busy meanwhile): the
    early material goes on as the backend's maps job starts, and the end is the blocking path's."""
    bpy = bpy_module
    arguments = dict(maps={"NORMAL"}, maps_model=str(tiny_marigold))  # maps made by the backend
    one_cube(bpy)
    blocking = texture_probe(bpy, addon, **arguments)
    assert blocking.execute(bpy.context) == {"FINISHED"}, blocking.reports
    expected = texture_state(bpy)

    cube = one_cube(bpy)
    probe = texture_probe(bpy, addon, **arguments)
    start_modal(probe, bpy.context)
    texture_job = probe._job
    wait_paused(paused_backend)
    resume(paused_backend)
    wait_queued(addon, texture_job, "result")  # the image event waits before it, undrained
    assert cube.active_material is None
    assert probe.modal(bpy.context, TIMER) == {"PASS_THROUGH"}, probe.reports
    maps_job = probe._job
    assert texture_job.done and texture_job.early is not None
    assert maps_job is not texture_job and maps_job.request.type == "maps" and not maps_job.done
    material = cube.active_material
    assert material is not None and material.name == TEXTURE["prompt"]  # shown while the maps run
    assert shown_image(material).packed_file is None and "atelier_provenance" not in material

    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert cube.active_material == material  # the early material, completed
    assert texture_state(bpy) == expected
    assert probe.reports[-1][1].split(" (seed")[0] == blocking.reports[-1][1].split(" (seed")[0]


def test_early_pixels_are_asked_for_only_on_the_ui_path_from_the_local_backend(
        bpy_module, addon, clean_scene, monkeypatch):
    bpy, client = bpy_module, addon.client
    mesh_object(bpy)
    probe = texture_probe(bpy, addon)

    def asks(config, modal: bool) -> bool:
        probe._client, probe._modal = client.backend_client.BackendClient(config), modal  # never started
        return probe.make_request(bpy.context, "early-question").early_pixels

    local = addon.preferences.backend_config(client.session.EXTENSION_DIR)
    assert isinstance(local, client.backend_client.BackendConfig)
    assert asks(local, modal=True) is True
    assert asks(local, modal=False) is False  # blender -b: the result is applied as it comes
    monkeypatch.setenv("ATELIER_BACKEND_URL", "https://gpu-server.example:8765")
    monkeypatch.setenv("ATELIER_BACKEND_TOKEN", "a-token")
    remote = addon.preferences.backend_config(client.session.EXTENSION_DIR)
    assert isinstance(remote, client.remote_config.RemoteConfig)
    assert asks(remote, modal=True) is False  # its files come with the result, over the network
    assert asks(client.text_server.TextServerConfig(url="http://127.0.0.1:9"), modal=True) is False


def test_a_job_that_asked_for_early_pixels_but_sent_none_is_applied_at_its_result(
        bpy_module, addon, clean_scene, paused_backend):
    """The result decides: early pixels that fail the client's checks are dropped on receipt
    (``session.drain``), and the texture goes on from the PNG as on the blocking path."""
    bpy = bpy_module
    cube = mesh_object(bpy)
    probe = texture_probe(bpy, addon)
    start_modal(probe, bpy.context)
    wait_paused(paused_backend)
    [raw] = probe._job.folder.path.rglob("*.rgba")
    raw.write_bytes(b"\0" * 10)  # cut short before Blender reads it: the event fails the checks
    resume(paused_backend)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert probe._early is None and probe._job.early is None
    assert shown_image(cube.active_material).packed_file is not None
