"""``atelier.generate_texture`` in real Blender with the real backend and a tiny model."""

import json

import pytest
from blender_helpers import (
    image_pixels,
    links,
    mesh_object,
    png_pixels,
    run_job,
    slow_texture_request,
    start_slow_texture_job,
)

GENERATE = dict(width=64, height=64, steps=2)


def test_texture_on_a_cube_builds_the_material(bpy_module, addon, clean_scene, backend_env):
    bpy = bpy_module
    cube = mesh_object(bpy)
    # maps=set(): the picture alone (tests/maps checks the PBR maps the default adds).
    assert bpy.ops.atelier.generate_texture(prompt="mossy stone wall", seed=7, maps=set(),
                                            **GENERATE) == {"FINISHED"}

    material = cube.active_material
    assert material.name == "mossy stone wall"
    assert links(material) == {
        ("ShaderNodeTexImage", "Color", "ShaderNodeBsdfPrincipled", "Base Color"),
        ("ShaderNodeBsdfPrincipled", "BSDF", "ShaderNodeOutputMaterial", "Surface"),
    }
    texture = next(n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage")
    image = texture.image
    assert texture.projection == "FLAT"  # the cube has UVs, so they are used
    assert tuple(image.size) == (64, 64) and image.packed_file is not None
    assert image.colorspace_settings.name == "sRGB"
    record = json.loads(image["atelier_provenance"])
    assert record["model"] == str(backend_env) and record["parameters"]["seed"] == 7
    assert image["atelier_seed"] == 7

    entry = clean_scene.atelier.history[-1]
    assert (entry.material_name, entry.image_name, entry.seed, entry.targets) == (
        material.name, image.name, 7, "Cube")
    assert entry.model == str(backend_env) and entry.prompt == "mossy stone wall"


def test_mesh_without_uvs_gets_box_projection(bpy_module, addon, clean_scene, backend_env):
    bpy = bpy_module
    blob = mesh_object(bpy, "Blob", uvs=False)
    assert len(blob.data.uv_layers) == 0
    bpy.ops.atelier.generate_texture(prompt="rusty metal", seed=1, maps=set(), **GENERATE)
    material = blob.active_material
    texture = next(n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage")
    assert texture.projection == "BOX"
    assert ("ShaderNodeTexCoord", "Object", "ShaderNodeTexImage", "Vector") in links(material)
    assert len(blob.data.uv_layers) == 0  # nothing was unwrapped behind the user's back


def test_existing_slot_is_replaced_and_new_slot_made_when_none(bpy_module, addon, clean_scene, backend_env):
    bpy = bpy_module
    cube = mesh_object(bpy)
    old = bpy.data.materials.new("old")
    cube.data.materials.append(old)
    cube.data.materials.append(bpy.data.materials.new("second"))
    cube.active_material_index = 0
    bpy.ops.atelier.generate_texture(prompt="oak planks", seed=2, **GENERATE)
    assert [slot.material.name for slot in cube.material_slots] == ["oak planks", "second"]


def test_async_path_pixels_match_the_backend_png(bpy_module, addon, clean_scene, backend_env, tmp_path):
    """The modal timer's path: submit, drain without blocking, then apply."""
    bpy, jobs, protocol = bpy_module, addon.client.session, addon.core.protocol
    apply_texture = addon.apply.texture
    cube = mesh_object(bpy)
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))
    request = protocol.TextureRequest(id=jobs.new_request_id(), prompt="blue tiles", width=80, height=64,
                                      steps=2, seed=5, model=str(backend_env), device="cpu",
                                      output_dir=str(tmp_path))
    job = run_job(jobs, client, request)
    assert job.error is None, job.error
    assert job.total == 2 and job.step == 2
    png = job.result.base_color
    assert png.parent.parent == (tmp_path / job.id).resolve()  # in the folder the client made
    expected = png_pixels(png)
    params = apply_texture.TextureParameters(prompt="blue tiles", width=80, height=64, steps=2, seed=5)
    applied = apply_texture.apply_texture(job.result, params, ["Cube"], "PACK")
    assert applied.objects == [cube]
    image = applied.image
    assert tuple(image.size) == (80, 64)
    assert abs(image_pixels(image) - expected).max() < 1.0 / 255 + 1e-6
    assert expected[..., :3].std() > 0.01  # a real picture, not a flat fill


def test_save_and_reload_keeps_image_and_history(bpy_module, addon, clean_scene, backend_env, tmp_path):
    bpy = bpy_module
    mesh_object(bpy)
    bpy.ops.atelier.generate_texture(prompt="cracked concrete", seed=3, **GENERATE)
    pixels = image_pixels(bpy.data.images["cracked concrete"])
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    assert "cracked concrete" not in bpy.data.images
    bpy.ops.wm.open_mainfile(filepath=str(path))

    image = bpy.data.images["cracked concrete"]
    assert image.packed_file is not None and "atelier_provenance" in image
    assert abs(image_pixels(image) - pixels).max() == 0
    entry = bpy.context.scene.atelier.history[-1]
    assert entry.material_name == "cracked concrete" and entry.seed == 3
    assert bpy.data.objects["Cube"].active_material.name == entry.material_name


def test_saved_images_go_next_to_the_blend(bpy_module, addon, clean_scene, backend_env, tmp_path):
    bpy = bpy_module
    prefs = addon.preferences.addon_preferences()
    mesh_object(bpy)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    prefs.image_storage = "SAVE"
    try:
        bpy.ops.atelier.generate_texture(prompt="red sand", seed=4, **GENERATE)
    finally:
        prefs.image_storage = "PACK"
    image = bpy.data.images["red sand"]
    assert image.packed_file is None
    assert image.filepath == "//textures/red_sand.png"
    assert (tmp_path / "textures" / "red_sand.png").is_file()


def test_saved_images_of_an_unsaved_file_go_to_the_user_folder(bpy_module, addon, clean_scene):
    bpy, apply_texture = bpy_module, addon.apply.texture
    assert bpy.data.filepath == ""
    user_folder = bpy.utils.extension_path_user(addon.__name__, path="textures")
    assert str(apply_texture.images_folder("SAVE")) == user_folder
    assert apply_texture.images_folder("PACK") is None


def test_undo_removes_the_material_and_history(bpy_module, addon, clean_scene, backend_env):
    bpy = bpy_module
    cube = mesh_object(bpy)
    bpy.ops.ed.undo_push(message="init")
    assert bpy.ops.atelier.generate_texture("EXEC_DEFAULT", True, prompt="green fabric", seed=1,
                                            **GENERATE) == {"FINISHED"}
    assert "green fabric" in bpy.data.materials
    bpy.ops.ed.undo()
    assert "green fabric" not in bpy.data.materials
    assert len(bpy.context.scene.atelier.history) == 0
    assert bpy.data.objects["Cube"].active_material is None
    del cube


def test_history_reapply_and_regenerate_with_same_seed(bpy_module, addon, clean_scene, backend_env):
    bpy = bpy_module
    mesh_object(bpy)
    bpy.ops.atelier.generate_texture(prompt="white marble", seed=11, **GENERATE)
    first = image_pixels(bpy.data.images["white marble"])
    other = mesh_object(bpy, "Other")
    bpy.ops.object.select_all(action="DESELECT")
    other.select_set(True)
    assert bpy.ops.atelier.texture_history_apply(index=0) == {"FINISHED"}
    assert other.active_material.name == "white marble"

    assert bpy.ops.atelier.texture_history_regenerate(index=0) == {"FINISHED"}
    history = bpy.context.scene.atelier.history
    assert len(history) == 2 and history[1].seed == 11 and history[1].prompt == "white marble"
    again = image_pixels(bpy.data.images[history[1].image_name])
    assert abs(again - first).max() < 1e-6  # same seed, same picture


def test_reapply_of_a_deleted_material_is_reported(bpy_module, addon, clean_scene, backend_env):
    bpy = bpy_module
    mesh_object(bpy)
    bpy.ops.atelier.generate_texture(prompt="ice", seed=1, **GENERATE)
    bpy.data.materials.remove(bpy.data.materials["ice"])
    with pytest.raises(RuntimeError, match="no longer exists"):
        bpy.ops.atelier.texture_history_apply(index=0)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(prompt="   "), "prompt is empty"),
    (dict(prompt="lava", width=100), "width 100 is not a multiple of 16; use 96 or 112"),
    (dict(prompt="lava", target="Nope"), "no object named 'Nope'"),
    (dict(prompt="lava", model="/no/such/model"), "model='builtin'"),
    (dict(prompt="lava", seed=-5), "seed -5 is out of range; use -1"),
    (dict(prompt="lava", steps=-1), "steps and guidance cannot be negative"),
    (dict(prompt="lava", width=4096), "width must be between 64 and 2048"),
    (dict(prompt="lava", height=8), "height must be between 64 and 2048"),
])
def test_bad_input_is_refused_and_scene_unchanged(bpy_module, addon, clean_scene, backend_env,
                                                  kwargs, message):
    bpy = bpy_module
    mesh_object(bpy)
    before = (len(bpy.data.materials), len(bpy.data.images))
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bpy.ops.atelier.generate_texture(**{**GENERATE, **kwargs})
    assert (len(bpy.data.materials), len(bpy.data.images)) == before
    assert len(bpy.context.scene.atelier.history) == 0
    assert message.split(";")[0] in bpy.context.window_manager.atelier.last_error
    # The backend survived and serves the next request.
    assert bpy.ops.atelier.generate_texture(prompt="lava", seed=1, **GENERATE) == {"FINISHED"}


def test_target_deleted_while_generating_is_reported(bpy_module, addon, clean_scene, backend_env, tmp_path):
    bpy, jobs, protocol = bpy_module, addon.client.session, addon.core.protocol
    apply_texture = addon.apply.texture
    keep = mesh_object(bpy, "Keep")
    gone = mesh_object(bpy, "Gone")
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))
    request = protocol.TextureRequest(id=jobs.new_request_id(), prompt="bark", width=64, height=64,
                                      steps=1, seed=1, model=str(backend_env), device="cpu",
                                      output_dir=str(tmp_path))
    job = run_job(jobs, client, request)
    bpy.data.objects.remove(gone)
    params = apply_texture.TextureParameters(prompt="bark", seed=1)
    with pytest.raises(jobs.ApplyError, match="Gone"):
        apply_texture.apply_texture(job.result, params, ["Gone"], "PACK")
    assert "bark" not in bpy.data.materials and "bark" not in bpy.data.images

    applied = apply_texture.apply_texture(job.result, params, ["Keep", "Gone"], "PACK")
    assert applied.objects == [keep] and applied.missing == ["Gone"]


def test_failed_apply_leaves_nothing_behind(bpy_module, addon, clean_scene, backend_env, tmp_path):
    bpy, jobs, protocol = bpy_module, addon.client.session, addon.core.protocol
    apply_texture = addon.apply.texture
    cube = mesh_object(bpy)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    event = protocol.ResultEvent(
        id="x", files=[protocol.ResultFile("base_color", str(broken), "png")],
        metadata=addon.core.provenance.build("texture", "diffusers", "m", {}, versions={}),
        data={"prompt": "soil", "negative_prompt": "", "width": 64, "height": 64, "steps": 1,
              "guidance": 0.0, "seed": 1, "seamless": "off"})
    result = addon.core.results.parse_result("texture", event, tmp_path)
    with pytest.raises(jobs.ApplyError, match="cannot read"):
        apply_texture.apply_texture(result, apply_texture.TextureParameters(prompt="soil"), ["Cube"], "PACK")
    assert len(bpy.data.images) == 0 and len(bpy.data.materials) == 0
    assert cube.active_material is None and len(bpy.context.scene.atelier.history) == 0


def test_cancel_stops_the_job_and_backend_serves_the_next(bpy_module, addon, clean_scene, backend_env,
                                                         tmp_path):
    bpy, jobs, protocol = bpy_module, addon.client.session, addon.core.protocol
    mesh_object(bpy)
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))
    job = start_slow_texture_job(jobs, protocol, client, backend_env, tmp_path, "leather")
    assert bpy.ops.atelier.cancel_job() == {"FINISHED"}
    jobs.wait(client, job, timeout=60)
    assert job.cancelled and job.step < 150
    assert "no answer within" not in job.error.message  # the backend itself stopped the job
    assert len(bpy.data.materials) == 0
    assert bpy.ops.atelier.generate_texture(prompt="leather", seed=1, **GENERATE) == {"FINISHED"}


def test_killed_backend_is_reported_and_next_click_recovers(bpy_module, addon, clean_scene, backend_env,
                                                           tmp_path):
    import os
    import signal

    bpy, jobs, protocol = bpy_module, addon.client.session, addon.core.protocol
    mesh_object(bpy)
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))
    job = start_slow_texture_job(jobs, protocol, client, backend_env, tmp_path, "grass")
    os.kill(client._transport.pid, signal.SIGKILL)
    jobs.wait(client, job, timeout=10)
    assert job.error.code == "backend_exited" and "exited" in job.error.message
    assert bpy.ops.atelier.generate_texture(prompt="grass", seed=1, **GENERATE) == {"FINISHED"}
    assert client.running()


def test_a_job_in_flight_ends_when_a_new_backend_setup_replaces_the_backend(
        bpy_module, addon, backend_env, tmp_path, monkeypatch):
    jobs, protocol, preferences = addon.client.session, addon.core.protocol, addon.preferences
    client = jobs.client_for(preferences.backend_config(jobs.EXTENSION_DIR))
    job = jobs.submit(client, slow_texture_request(jobs, protocol, backend_env, tmp_path, "sand"))
    monkeypatch.setattr(preferences, "allow_network", lambda: True)  # Blender went online
    replacement = jobs.client_for(preferences.backend_config(jobs.EXTENSION_DIR))
    assert replacement is not client and not client.running()
    assert job.done and job.error.code == "backend_exited" and "settings changed" in job.error.message
    assert jobs.active_jobs() == []


def test_loading_a_file_cancels_the_job_in_flight(bpy_module, addon, clean_scene, backend_env, tmp_path):
    bpy, jobs, protocol = bpy_module, addon.client.session, addon.core.protocol
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))
    job = jobs.submit(client, slow_texture_request(jobs, protocol, backend_env, tmp_path, "soil"))
    bpy.ops.wm.read_homefile(use_empty=True)
    assert job.cancelled and job.error.message == "a file was loaded"
    assert jobs.active_jobs() == []
