"""Limits on what one request may ask for, set per machine.

``ATELIER_MAX_SIZE`` (pixels per side, default 2048) and ``ATELIER_MAX_STEPS`` (default 150)
override the defaults; ``serve --max-size/--max-steps`` set them for one server.
"""

from __future__ import annotations

import os

DEFAULT_MAX_SIZE = 2048
DEFAULT_MAX_STEPS = 150
MIN_SIZE = 64


def max_size() -> int:
    """Largest width or height a texture may have."""
    return _positive_int("ATELIER_MAX_SIZE", DEFAULT_MAX_SIZE)


def max_steps() -> int:
    """Most denoising steps a texture job may run."""
    return _positive_int("ATELIER_MAX_STEPS", DEFAULT_MAX_STEPS)


def as_dict() -> dict:
    """The limits as the ``hello`` event reports them."""
    return {"max_size": max_size(), "max_steps": max_steps(), "min_size": MIN_SIZE}


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return default
