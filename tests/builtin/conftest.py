"""Fixtures for the built-in engine: its modules, imported from the installed extension."""

import importlib

import pytest


class _Modules:
    """``builtin.texture`` etc.: the engine's modules inside the installed extension package."""

    def __init__(self, package: str) -> None:
        self._package = package

    def __getattr__(self, name: str):
        return importlib.import_module(f"{self._package}.builtin.{name}")


@pytest.fixture(scope="session")
def builtin(addon):
    return _Modules(addon.__name__)


@pytest.fixture
def plane(clean_scene, bpy_module):
    """A 2 m plane with a UV map, selected and active."""
    bpy_module.ops.mesh.primitive_plane_add(size=2)
    return bpy_module.context.object
