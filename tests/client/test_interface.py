"""Preferences, poll reasons, panels, housekeeping operators and clean unregistration."""

import time

import pytest
from blender_helpers import mesh_object
from panel_recorder import RecordingLayout, labels
from panel_recorder import draw as _draw


def test_panels_draw_idle_running_and_after_an_error(bpy_module, addon, clean_scene, backend_env, job_state):
    bpy = bpy_module
    clean_scene.atelier.texture.prompt = "old brick"
    clean_scene.atelier.texture.seed = 42
    panels = addon.panels
    calls = _draw(bpy, panels.main.ATELIER_PT_main) + _draw(bpy, panels.texture.ATELIER_PT_texture)
    generate = [c for c in calls if c[0] == "operator" and c[1][0] == "atelier.generate_texture"]
    assert len(generate) == 1

    state = job_state
    texture_op = "atelier.generate_texture"
    state.running, state.job_operator, state.progress, state.stage = True, texture_op, 0.5, "3/6"
    state.last_error, state.last_error_operator = "the model is missing — download it", texture_op
    calls = _draw(bpy, addon.panels.texture.ATELIER_PT_texture)
    assert any(c[0] == "progress" and c[2]["factor"] == 0.5 for c in calls)
    assert any(c[0] == "operator" and c[1][0] == "atelier.cancel_job" for c in calls)
    assert any(c[0] == "label" and "model is missing" in c[2].get("text", "") for c in calls)


def test_generate_button_carries_the_panel_settings(bpy_module, addon, clean_scene, backend_env):
    bpy = bpy_module
    settings = clean_scene.atelier.texture
    settings.prompt, settings.seed, settings.seamless, settings.width = "sand dunes", 9, "X", 256
    calls = _draw(bpy, addon.panels.texture.ATELIER_PT_texture)
    sent = [c[2] for c in calls if c[0] == "operator properties" and c[1][0] == "atelier.generate_texture"]
    # Steps and guidance were never touched: left unpassed, so a style's defaults could apply.
    assert sent == [{"prompt": "sand dunes", "negative_prompt": "", "width": 256, "height": 512,
                     "seed": 9, "style": "", "seamless": "X"}]


def test_poll_says_why_generate_is_greyed_out(bpy_module, addon, clean_scene, backend_env):
    bpy = bpy_module
    assert not bpy.ops.atelier.generate_texture.poll()
    with pytest.raises(RuntimeError, match="Select a mesh object"):
        bpy.ops.atelier.generate_texture(prompt="x")
    # The history's Regenerate button is greyed out for the same reason.
    with pytest.raises(RuntimeError, match="Select a mesh object"):
        bpy.ops.atelier.texture_history_regenerate()
    mesh_object(bpy)
    assert bpy.ops.atelier.generate_texture.poll()


def _generate_button_enabled(bpy, panel) -> bool:
    calls = _draw(bpy, panel)
    button = next(i for i, c in enumerate(calls) if c[0] == "operator" and c[1][0].startswith("atelier."))
    return [c[1][0] for c in calls[:button] if c[0] == "enabled"][-1]


def test_without_a_backend_scripts_use_the_builtin_engine_and_buttons_say_why(
        bpy_module, addon, clean_scene, backend_env, monkeypatch):
    bpy, panels = bpy_module, addon.panels
    obj = mesh_object(bpy)
    monkeypatch.delenv("ATELIER_PYTHON")
    monkeypatch.delenv("ATELIER_TEXT_MODEL", raising=False)
    assert addon.preferences.addon_preferences().python_path == ""
    assert addon.preferences.resolved_model("text") != addon.preferences.BUILTIN
    # Poll cannot see model='builtin', so it lets the call through; the run says what to change.
    assert bpy.ops.atelier.generate_texture.poll()
    with pytest.raises(RuntimeError, match="Set the backend Python.*model='builtin'"):
        bpy.ops.atelier.generate_texture(prompt="old brick wall")
    assert obj.active_material is None
    assert bpy.ops.atelier.generate_texture(prompt="old brick wall", model="builtin") == {"FINISHED"}
    assert obj.active_material is not None
    for operator in ("suggest_scene", "generate_palette"):
        with pytest.raises(RuntimeError, match="Set the backend Python.*model='builtin'"):
            getattr(bpy.ops.atelier, operator)(prompt="a rainy neon alley")
    # In the panels the buttons that need the backend are greyed out, with the reason beside them.
    for panel in (panels.texture.ATELIER_PT_texture, panels.ideas.ATELIER_PT_ideas,
                  panels.palette.ATELIER_PT_palette):
        assert not _generate_button_enabled(bpy, panel), panel
        assert any(label.startswith("Set the backend Python") for label in labels(_draw(bpy, panel)))
    assert "Backend: not set up (built-in engine only)" in labels(_draw(bpy, panels.main.ATELIER_PT_main))
    monkeypatch.setenv("ATELIER_TEXTURE_MODEL", "builtin")
    assert _generate_button_enabled(bpy, panels.texture.ATELIER_PT_texture)  # needs no backend


def test_environment_overrides_preferences(addon, monkeypatch):
    prefs_module = addon.preferences
    prefs = prefs_module.addon_preferences()
    monkeypatch.delenv("ATELIER_TEXT_MODEL", raising=False)
    monkeypatch.delenv("ATELIER_DEVICE", raising=False)
    prefs.text_model, prefs.device = "some/instruct-model", "cpu"
    try:
        assert prefs_module.resolved_model("text") == "some/instruct-model"
        assert prefs_module.resolved_device() == "cpu"
        monkeypatch.setenv("ATELIER_TEXT_MODEL", "builtin")
        monkeypatch.setenv("ATELIER_DEVICE", "cuda:1")
        assert prefs_module.resolved_model("text") == "builtin"
        assert prefs_module.resolved_device() == "cuda:1"
    finally:
        prefs.property_unset("text_model")
        prefs.property_unset("device")
    with pytest.raises(ValueError, match="'texture', 'text' or 'control'"):
        prefs_module.resolved_model("video")


def test_offline_blender_means_an_offline_backend(bpy_module, addon):
    assert bpy_module.app.online_access is False  # the bpy module never allows it
    assert addon.preferences.allow_network() is False
    config = addon.preferences.backend_config(addon.client.session.EXTENSION_DIR)
    assert dict(config.env) == {"HF_HUB_OFFLINE": "1"}


def test_builtin_engine_makes_a_procedural_material_without_backend(bpy_module, addon, clean_scene,
                                                                    monkeypatch):
    bpy = bpy_module
    monkeypatch.delenv("ATELIER_PYTHON", raising=False)
    monkeypatch.setenv("ATELIER_TEXTURE_MODEL", "builtin")  # no backend: the button stays usable
    cube = mesh_object(bpy)
    assert bpy.ops.atelier.generate_texture(prompt="red brick wall", model="builtin", seed=3) == {"FINISHED"}
    material = cube.active_material
    assert any(n.bl_idname == "ShaderNodeTexBrick" for n in material.node_tree.nodes)
    entry = clean_scene.atelier.history[-1]
    assert (entry.engine, entry.model, entry.seed, entry.material_name, entry.image_name) == (
        "builtin", "builtin", 3, material.name, "")
    with pytest.raises(RuntimeError, match="names no material"):
        bpy.ops.atelier.generate_texture(prompt="a happy feeling", model="builtin")
    state = bpy.context.window_manager.atelier
    assert "names no material" in state.last_error
    # The next success clears the panel's error, as it does for backend jobs.
    assert bpy.ops.atelier.generate_texture(prompt="oak planks", model="builtin") == {"FINISHED"}
    assert state.last_error == ""


def test_doctor_reports_a_working_and_a_broken_backend(bpy_module, addon, backend_env, monkeypatch):
    """Doctor is a ``doctor`` job of the shared backend client: no process of its own."""
    bpy, jobs = bpy_module, addon.client.session
    prefs = addon.preferences.addon_preferences()
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))
    client.ensure_started()
    backend_process = client._transport._process
    assert bpy.ops.atelier.backend_doctor() == {"FINISHED"}
    assert "everything works" in prefs.doctor_report and prefs.doctor_report.endswith("Backend OK")
    # Served by the shared backend: the same client and process, still up for the next job.
    assert jobs.current_client() is client and client._transport._process is backend_process
    assert backend_process.poll() is None and not jobs.active_jobs()
    monkeypatch.setenv("ATELIER_PYTHON", "/bin/false")
    with pytest.raises(RuntimeError, match="Doctor failed: .*backend"):
        bpy.ops.atelier.backend_doctor()
    assert prefs.doctor_report.startswith("Doctor failed: ") and "exited (status 1)" in prefs.doctor_report


def test_doctor_reports_a_broken_environment_as_an_error_naming_the_problem(
        bpy_module, addon, backend_env, monkeypatch):
    """A broken environment is a result with ok false: the operator ends CANCELLED with the
    report's last lines (what broke, the hint) as its error, and keeps the whole report."""
    bpy = bpy_module
    prefs = addon.preferences.addon_preferences()
    monkeypatch.setenv("ATELIER_DEVICE", "tpu")  # the request's device: this machine has none
    with pytest.raises(RuntimeError, match="Doctor failed: unknown device 'tpu'; hint: use one of"):
        bpy.ops.atelier.backend_doctor()
    report = prefs.doctor_report
    assert "torch" in report and "doctor: BROKEN: unknown device 'tpu'" in report
    assert "everything works" not in report and not report.endswith("Backend OK")
    assert report.splitlines()[-1].startswith("Doctor failed: unknown device 'tpu'")
    state = bpy.context.window_manager.atelier
    assert state.last_error.startswith("Doctor failed") and not state.running


def test_a_doctor_that_gives_no_answer_is_cancelled_at_its_deadline(
        bpy_module, addon, backend_env, monkeypatch):
    """Doctor must not wait for ever: past its deadline the job is cancelled and the report
    says so; the button is usable again at once."""
    bpy, jobs = bpy_module, addon.client.session
    doctor = addon.operators.doctor.ATELIER_OT_backend_doctor
    assert doctor.timeout == addon.operators.doctor.DOCTOR_TIMEOUT == 300
    assert "UNDO" not in doctor.bl_options  # Doctor changes no scene data
    prefs = addon.preferences.addon_preferences()
    monkeypatch.setattr(doctor, "timeout", 0.001)
    with pytest.raises(RuntimeError, match=r"Doctor gave no answer within 0\.001 s"):
        bpy.ops.atelier.backend_doctor()
    assert "no answer within 0.001 s" in prefs.doctor_report
    assert not jobs.active_jobs() and not bpy.context.window_manager.atelier.running
    assert bpy.ops.atelier.backend_doctor.poll()
    monkeypatch.setattr(doctor, "timeout", 300)
    assert bpy.ops.atelier.backend_doctor() == {"FINISHED"}  # the backend serves on
    assert prefs.doctor_report.endswith("Backend OK")


def test_regenerate_is_greyed_out_while_a_job_runs(bpy_module, addon, clean_scene, backend_env, job_state):
    bpy = bpy_module
    mesh_object(bpy)
    assert bpy.ops.atelier.generate_texture(prompt="dry soil", seed=1, width=64, height=64,
                                            steps=1) == {"FINISHED"}
    assert bpy.ops.atelier.texture_history_regenerate.poll()
    job_state.running = True
    assert not bpy.ops.atelier.texture_history_regenerate.poll()
    calls = _draw(bpy, addon.panels.texture.ATELIER_PT_texture)
    regenerate = next(i for i, c in enumerate(calls)
                      if c[0] == "operator" and c[1][0] == "atelier.texture_history_regenerate")
    assert [c[1][0] for c in calls[:regenerate] if c[0] == "enabled"][-1] is False


def test_free_memory_unloads_and_backend_keeps_serving(bpy_module, addon, clean_scene, backend_env):
    bpy = bpy_module
    jobs = addon.client.session
    jobs.shutdown()
    assert bpy.ops.atelier.free_memory() == {"FINISHED"}  # nothing runs: nothing to free
    mesh_object(bpy)
    bpy.ops.atelier.generate_texture(prompt="dry soil", seed=1, width=64, height=64, steps=1)
    assert bpy.ops.atelier.free_memory() == {"FINISHED"}
    client = jobs.current_client()
    deadline = time.monotonic() + 20
    while "(unload)" not in client.log_tail() and time.monotonic() < deadline:
        jobs.drain(client, timeout=0.2)
    assert "(unload)" in client.log_tail()
    assert bpy.ops.atelier.generate_texture(prompt="dry soil", seed=1, width=64, height=64,
                                            steps=1) == {"FINISHED"}


def test_unregister_leaves_nothing_registered(bpy_module, addon, backend_env):
    import addon_utils

    bpy = bpy_module
    module = addon.__name__
    backend_ops = addon.operators.backend_control
    session = addon.client.session
    client = session.client_for(addon.preferences.backend_config(session.EXTENSION_DIR))
    client.ensure_started()
    backend_process = client._transport._process
    addon_utils.disable(module, default_set=True)
    try:
        assert not [name for name in dir(bpy.types) if name.startswith(("ATELIER_", "Atelier"))]
        assert not hasattr(bpy.types.Scene, "atelier") and not hasattr(bpy.types.WindowManager, "atelier")
        assert backend_ops._cancel_jobs_on_load not in bpy.app.handlers.load_pre
        assert not bpy.app.timers.is_registered(backend_ops._unload_idle_models)
        assert addon.client.session.current_client() is None
        assert backend_process.poll() is not None  # the backend process was stopped
        assert module not in bpy.context.preferences.addons
    finally:
        addon_utils.enable(module, default_set=True)
    assert hasattr(bpy.types.Scene, "atelier")


def test_preferences_draw_with_overrides_and_a_doctor_report(bpy_module, addon, backend_env):
    prefs = addon.preferences.addon_preferences()
    prefs.doctor_report = "torch 2.13\nBackend OK"
    calls = []

    class WithLayout:
        """The real preferences, with a recording layout in place of the UI's."""

        layout = RecordingLayout(bpy_module, calls)

        def __getattr__(self, name):
            return getattr(prefs, name)

    try:
        type(prefs).draw(WithLayout(), bpy_module.context)
    finally:
        prefs.property_unset("doctor_report")
    labels = [c[2].get("text", "") for c in calls if c[0] == "label"]
    assert any(text.startswith("ATELIER_PYTHON overrides") for text in labels)
    assert "Backend OK" in labels
    assert {"atelier.backend_doctor", "atelier.free_memory"} <= {c[1][0] for c in calls if c[0] == "operator"}


@pytest.mark.parametrize("settings, operator", [
    ("texture", "generate_texture"), ("palette", "generate_palette"), ("idea_request", "suggest_scene")])
def test_operators_take_the_panel_fields_with_soft_limits(bpy_module, clean_scene, settings, operator):
    """A script's out-of-range value must reach the operator (which says what to use), while the
    panel clamps: the same fields, the panel's hard limits as the operator's soft ones."""
    panel_fields = getattr(clean_scene.atelier, settings).bl_rna.properties
    operator_fields = getattr(bpy_module.ops.atelier, operator).get_rna_type().properties
    shared = [name for name in operator_fields.keys() if name in panel_fields.keys() and name != "rna_type"]
    assert len(shared) >= 3
    for name in shared:
        ours, theirs = operator_fields[name], panel_fields[name]
        assert (ours.type, ours.description) == (theirs.type, theirs.description), name
        if ours.type in {"INT", "FLOAT"} and ours.subtype not in {"COLOR_GAMMA"}:
            assert (ours.soft_min, ours.soft_max) == (theirs.hard_min, theirs.hard_max), name
            assert ours.hard_min <= theirs.hard_min and ours.hard_max >= theirs.hard_max, name
            assert (ours.hard_min, ours.hard_max) != (theirs.hard_min, theirs.hard_max), name


@pytest.mark.parametrize("operator, arguments", [
    ("generate_texture", {}),
    ("generate_palette", {"source": "PROMPT"}),
    ("suggest_scene", {}),
])
def test_a_model_that_is_not_there_names_the_builtin_engine(bpy_module, clean_scene, backend_env,
                                                            operator, arguments):
    bpy = bpy_module
    mesh_object(bpy)
    with pytest.raises(RuntimeError, match=r"not in the local Hugging Face cache.*model='builtin'"):
        getattr(bpy.ops.atelier, operator)(prompt="a rainy neon alley", model="no/such-model", **arguments)
    assert len(bpy.data.materials) == len(bpy.data.palettes) == len(clean_scene.atelier.ideas) == 0
