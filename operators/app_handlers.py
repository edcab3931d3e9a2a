"""Adding and removing ``bpy.app.handlers`` by name, for Blender versions that lack some.

``load_post_fail`` is missing from Blender 4.2, so a handler list names each handler's list by
its name and one missing here is skipped.
"""

from __future__ import annotations

import bpy


def add(handlers) -> None:
    """Append each ``(list name, handler)`` of ``handlers`` to the list this Blender has."""
    for name, handler in handlers:
        if hasattr(bpy.app.handlers, name):
            getattr(bpy.app.handlers, name).append(handler)


def remove(handlers) -> None:
    """Remove each ``(list name, handler)`` of ``handlers`` added by ``add``."""
    for name, handler in handlers:
        if handler in getattr(bpy.app.handlers, name, ()):
            getattr(bpy.app.handlers, name).remove(handler)
