"""A projection chain that goes wrong in an unplanned way, or is stopped from the UI, leaves the
scene as it was: an exception while the first request is made or a view is accepted, a mesh
deleted under the run, Esc in the modal run (where undo is held while it lasts); and the control
model the requests carry when the operator names none."""

from __future__ import annotations

import importlib
import time
from types import SimpleNamespace

import pytest
from modal_events import ESC, TIMER
from project_scenes import cube, project_state

UNDO = SimpleNamespace(type="Z", value="PRESS", ctrl=True, oskey=False)
SMALL = {"view_size": 64, "texture_size": 64, "seed": 3, "maps": set()}


def projection_run(addon):
    return importlib.import_module(f"{addon.__name__}.apply.projection_run").ProjectionRun


def failing(exception):
    def fail(*_args, **_kwargs):
        raise exception
    return fail


def outcome_of(bpy, **kwargs) -> str:
    """The operator's error text (it must fail), whatever way Blender hands it on."""
    try:
        bpy.ops.atelier.project_texture(prompt="granite", views=2, **SMALL, **kwargs)
    except RuntimeError as exc:
        return str(exc)
    raise AssertionError("the projection succeeded")


def test_an_unplanned_error_while_the_first_view_is_made(bpy_module, addon, clean_scene, backend_env,
                                                          monkeypatch):
    """The UV map made for the mesh and the views' cameras go, and the error is not hidden."""
    bpy = bpy_module
    cube(bpy, uvs=False)
    monkeypatch.setattr(projection_run(addon), "next_view", failing(KeyError("unplanned")))
    before = project_state(bpy)
    assert "unplanned" in outcome_of(bpy)
    assert project_state(bpy) == before


@pytest.mark.parametrize("exception", [KeyError("unplanned"), ReferenceError("StructRNA has been removed")])
def test_an_error_while_a_view_is_accepted(bpy_module, addon, clean_scene, control_env, quick_style,
                                          monkeypatch, exception):
    bpy = bpy_module
    cube(bpy, uvs=False)
    monkeypatch.setattr(projection_run(addon), "accept", failing(exception))
    before = project_state(bpy)
    message = outcome_of(bpy, style=quick_style, control_model=control_env)
    if isinstance(exception, ReferenceError):
        assert "a mesh being painted was deleted while the views were painted; nothing was changed" in message
        assert "Traceback" not in message
    else:
        assert "unplanned" in message
    assert project_state(bpy) == before


def projection_probe(addon, **settings):
    """A plain-Python stand-in for a running ``atelier.project_texture`` (Blender's operator
    instances cannot be made by hand): the operator's own methods on a recording object."""
    project = addon.operators.project
    operator = project.ATELIER_OT_project_texture
    names = [name for name, value in vars(operator).items()
             if callable(value) and not name.startswith("__") and name not in ("bl_rna",)]

    class Probe(addon.operators.backend_operator.BackendJobOperator):
        bl_idname = operator.bl_idname
        locals().update({name: vars(operator)[name] for name in names})
        builtin_alternative = ""

        def __init__(self):
            self.properties = SimpleNamespace(is_property_set=lambda name: True)
            values = dict(prompt="granite", negative_prompt="", views=2, model="", control_model="",
                          target="", uv_map="", maps_model="", displacement="BUMP", use_ao=True, style="")
            values.update(SMALL, **settings)
            vars(self).update(values)
            self.reports = []

        def report(self, kind, message):
            self.reports.append((kind, message))

    return Probe()


def tick(probe, context, until, limit=300.0) -> set[str]:
    """Tick the modal operator (timers never fire under the bpy module) until ``until()`` or
    the chain ends; returns the last outcome."""
    deadline = time.monotonic() + limit
    outcome = {"PASS_THROUGH"}
    while outcome == {"PASS_THROUGH"} and not until():
        assert time.monotonic() < deadline, probe.reports
        time.sleep(0.05)
        outcome = probe.modal(context, TIMER)
    return outcome


def test_esc_in_the_modal_run_and_undo_held_meanwhile(bpy_module, addon, clean_scene, control_env,
                                                     quick_style):
    bpy = bpy_module
    cube(bpy, uvs=False)
    before = project_state(bpy)
    probe = projection_probe(addon, control_model=control_env, style=quick_style)
    context = bpy.context
    assert probe._start(context) is not None
    assert tick(probe, context, lambda: probe._job.label.endswith("view 2")) == {"PASS_THROUGH"}
    assert bpy.data.collections.get("granite") is not None  # the run's views exist meanwhile
    assert probe.modal(context, UNDO) == {"RUNNING_MODAL"}  # held: the run needs its views
    assert probe.modal(context, ESC) == {"RUNNING_MODAL"}
    assert tick(probe, context, lambda: False) == {"CANCELLED"}
    assert probe.reports == [({"WARNING"}, "projection 'granite' view 2: cancelled")]
    assert project_state(bpy) == before


@pytest.mark.parametrize("source", ["environment", "preference"])
def test_no_control_model_named_takes_the_environment_then_the_preference(
        bpy_module, addon, clean_scene, control_env, quick_style, monkeypatch, source):
    bpy = bpy_module
    cube(bpy)
    monkeypatch.delenv("ATELIER_CONTROL_MODEL", raising=False)
    prefs = addon.preferences.addon_preferences()
    saved = prefs.control_model
    if source == "environment":
        monkeypatch.setenv("ATELIER_CONTROL_MODEL", control_env)
        prefs.control_model = "someone/not-this-one"  # the environment wins
    else:
        prefs.control_model = control_env
    sent = []
    session = addon.client.session
    submit = session.submit

    def recorded(client, request, **kwargs):
        sent.append(request.control_model)
        return submit(client, request, **kwargs)

    monkeypatch.setattr(session, "submit", recorded)
    try:
        assert bpy.ops.atelier.project_texture(prompt="granite", views=2, style=quick_style, control_model="",
                                               **SMALL) == {"FINISHED"}
    finally:
        prefs.control_model = saved
    assert sent == [control_env, control_env]
