"""The provenance record of a built-in result: ``core.provenance`` with Blender's versions."""

from __future__ import annotations

import bpy

from ..core import provenance


def record(task: str, parameters: dict, **extra) -> dict:
    """How a built-in result was made: engine and model ``builtin``, every parameter, the
    versions that can change it, and ``extra`` (the recipe or template id and the seed)."""
    import coloraide  # the one library besides Blender whose version can change a colour

    return provenance.build(
        task, "builtin", "builtin", parameters, device="cpu",
        versions={"blender": bpy.app.version_string, "coloraide": coloraide.__version__}, **extra)
