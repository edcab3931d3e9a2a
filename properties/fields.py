"""Property definitions a panel's settings and its operator share, written once.

A panel's settings clamp to hard limits as the artist drags. The operator gets the same fields
with soft limits only, so a script's out-of-range value reaches it and is refused with a message
that says what to use, rather than being clamped into something the script did not ask for.
"""

import bpy

from ..core.protocol import SEED_MAX

# Blender 4.5 warns about '//' paths unless a property declares it supports them; 4.2 lacks the flag.
BLEND_RELATIVE = {"PATH_SUPPORTS_BLEND_RELATIVE"} if bpy.app.version >= (4, 5, 0) else set()


def bounds(low, high, *, hard: bool) -> dict:
    """``min``/``max`` (hard) or ``soft_min``/``soft_max`` keyword arguments for a bpy property."""
    return {"min": low, "max": high} if hard else {"soft_min": low, "soft_max": high}


def seed_field(*, hard: bool):
    return bpy.props.IntProperty(name="Seed", description="Random seed (-1 = a new random one)",
                                 default=-1, **bounds(-1, SEED_MAX, hard=hard))


def model_field(which: str = "the preference"):
    """An operator's ``model``: empty means ``which`` (the preference it falls back on)."""
    return bpy.props.StringProperty(name="Model", description="HF id, local folder or 'builtin' "
                                    f"(empty = {which})")
