"""PBR material maps: the names, colour spaces and engines Blender and the backend agree on.

A texture becomes a material through up to six maps, each an image with one ``role``:
``normal`` (tangent space, OpenGL convention: green is +Y, toward the top of the picture),
``height`` (0.5 at the mean surface), ``roughness``, ``metallic``, ``ao`` (1 = unoccluded) and
``albedo`` (the de-lit colour). Every map but albedo holds data, not colour, so Blender reads it
as Non-Color. Two engines make them: ``classic`` (numpy filters, no weights,
``core.pbr_classic``) and ``marigold`` (learned, in the backend).
"""

from __future__ import annotations

from collections.abc import Iterable

# The one list of map roles, in the order files, menus and messages use.
MAP_ROLES = ("normal", "height", "roughness", "metallic", "ao", "albedo")
# How Blender must read each map: albedo is a picture, the rest are numbers stored as pixels.
COLOR_SPACES = {role: ("sRGB" if role == "albedo" else "Non-Color") for role in MAP_ROLES}
MAPS_ENGINES = ("classic", "marigold")
DEFAULT_MAPS_MODEL = "marigold"
# Names the maps model when a request leaves ``model`` empty: "classic", "marigold" or a folder.
MAPS_MODEL_ENV = "ATELIER_MAPS_MODEL"
# The smallest side an image may have: gradients and local statistics need a neighbourhood,
# and a picture smaller than this carries no surface to read.
MIN_MAP_SIZE = 8


class MapError(ValueError):
    """A maps request was refused (an unknown map, an unusable image); the message says what
    to change."""


def check_map_names(names: Iterable[str]) -> tuple[str, ...]:
    """The requested maps as lower-case role names in ``MAP_ROLES`` order, each once; raises
    ``MapError`` naming the first unknown one. A single string is one name."""
    wanted = set()
    for name in [names] if isinstance(names, str) else names:
        role = str(name).strip().lower()
        if role not in MAP_ROLES:
            raise MapError(f"unknown map {str(name)!r}; use one of {', '.join(MAP_ROLES)}")
        wanted.add(role)
    return tuple(role for role in MAP_ROLES if role in wanted)


def check_image_size(height: int, width: int) -> None:
    """Refuse an image too small to derive maps from, with ``MapError`` saying the minimum."""
    if min(height, width) < MIN_MAP_SIZE:
        raise MapError(
            f"the image is {width}x{height} pixels; maps need at least "
            f"{MIN_MAP_SIZE}x{MIN_MAP_SIZE}"
        )
