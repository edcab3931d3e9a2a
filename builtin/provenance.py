"""The provenance record of a built-in result, shaped like the backend's (``PROVENANCE_SCHEMA``)."""

from __future__ import annotations

import datetime
import platform

import bpy

from ..backend import __version__ as atelier_version
from ..backend import protocol


def record(task: str, parameters: dict, **extra) -> dict:
    """How a built-in result was made: engine and model ``builtin``, every parameter, the
    versions that can change it, and ``extra`` (the recipe or template id and the seed)."""
    import coloraide  # the one library besides Blender whose version can change a colour

    result = {
        "schema": protocol.PROVENANCE_SCHEMA,
        "task": task,
        "engine": "builtin",
        "model": "builtin",
        "model_source": "builtin",
        "revision": None,
        "device": "cpu",
        "dtype": None,
        "versions": {
            "python": platform.python_version(),
            "atelier_backend": atelier_version,
            "blender": bpy.app.version_string,
            "coloraide": coloraide.__version__,
        },
        "parameters": parameters,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    result.update(extra)
    return result
