"""Set-up the projection and restyle operator tests share: a tiny depth ControlNet for the tiny
SD model, and the backend with both (``backend_env`` from the top conftest)."""

from __future__ import annotations

import importlib

import pytest


@pytest.fixture
def control_env(backend_env, tiny_controlnet) -> str:
    """The backend with the tiny SD model; returns the tiny ControlNet's folder for the operators'
    ``control_model``. (Not ATELIER_CONTROL_MODEL: the backend started in one test would keep it
    for every later one.)"""
    return str(tiny_controlnet)


@pytest.fixture
def nothing_rendered(addon, monkeypatch) -> list:
    """Records every call of the renders a projection starts with; a refusal leaves it empty."""
    render = importlib.import_module(f"{addon.__name__}.apply.project_render")
    run = importlib.import_module(f"{addon.__name__}.apply.projection_run")
    calls = []

    def recorded(name, real):
        def call(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(render, "rendered_geometry", recorded("rendered_geometry", render.rendered_geometry))
    monkeypatch.setattr(run.ProjectionRun, "__init__", recorded("ProjectionRun", run.ProjectionRun.__init__))
    return calls
